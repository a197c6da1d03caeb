"""Camera trajectories from bags (odometry, /tf, interpolation) and KITTI OXTS -> odometry in kitti2bag."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semdepth_ros.bag import io as bagio
from semdepth_ros.bag.odometry import BODY_FROM_OPTICAL, TimedTransform, TransformHistory, interpolate_pose, \
    read_camera_trajectory
from semdepth_ros.bag.oxts import EARTH_RADIUS, oxts_track
from semdepth_ros.bag.transforms import invert, make_transform, quaternion_to_matrix, split_transform
from semdepth_ros.cli.main import main

from bag_helpers import CAMERA, T0, make_kitti_drive

IMU_TO_VELO = """calib_time: 25-May-2012 16:47:16
R: 9.999976e-01 7.553071e-04 -2.035826e-03 -7.854027e-04 9.998898e-01 -1.482298e-02 2.024406e-03 1.482454e-02 9.998881e-01
T: -8.086759e-01 3.195559e-01 -7.997231e-01
"""


def _rot_z(angle: float) -> np.ndarray:
    return make_transform([0, 0, 0], [0, 0, np.sin(angle / 2), np.cos(angle / 2)])


def test_interpolation_is_linear_in_translation_and_spherical_in_rotation() -> None:
    a = make_transform([0, 0, 0], [0, 0, 0, 1])
    b = _rot_z(np.radians(90))
    b[:3, 3] = [2.0, 4.0, -6.0]
    mid = interpolate_pose(a, b, 0.25)
    assert np.allclose(mid[:3, 3], [0.5, 1.0, -1.5])
    assert np.allclose(mid[:3, :3], _rot_z(np.radians(22.5))[:3, :3])  # a quarter of the angle, not of the matrix
    edge = TimedTransform(np.array([10, 20], dtype=np.int64), np.stack([a, b]))
    assert np.allclose(edge.at(15)[:3, 3], [1.0, 2.0, -3.0])
    assert edge.at(10 - 10**6) is not None and edge.at(20 + 10**6) is not None   # 1 ms: the end sample held
    assert edge.at(10 - 10**8) is None and edge.at(20 + 10**8) is None            # 100 ms: no extrapolation
    gappy = TimedTransform(np.array([0, 10**9], dtype=np.int64), np.stack([a, b]))
    assert gappy.at(5 * 10**8) is None  # samples 1 s apart do not bracket a frame


def test_chain_through_moving_and_static_edges() -> None:
    history = TransformHistory()
    base_cam = BODY_FROM_OPTICAL.copy()
    base_cam[:3, 3] = [0.5, 0.0, 1.2]
    history.add_static("base_link", CAMERA, base_cam)
    for i in range(3):
        pose = _rot_z(0.1 * i)
        pose[:3, 3] = [float(i), 0.0, 0.0]
        history.add("/odom", "base_link", i * 10**8, pose)   # a leading slash (ROS 1 style) is ignored
    expected = _rot_z(0.05)
    expected[:3, 3] = [0.5, 0.0, 0.0]
    got = history.lookup("odom", CAMERA, 5 * 10**7)
    assert np.allclose(got, expected @ base_cam)
    assert np.allclose(history.lookup(CAMERA, "odom", 5 * 10**7), invert(expected @ base_cam))
    assert history.lookup("odom", "elsewhere", 0) is None


def _odometry_bag(path: Path, with_tf_static: bool, as_tf: bool = False) -> list[np.ndarray]:
    """A camera driving forward 1 m per 0.1 s while turning slowly; returns its true camera poses."""
    base_cam = BODY_FROM_OPTICAL.copy()
    base_cam[:3, 3] = [0.3, 0.0, 1.5]
    truth = []
    with bagio.BagWriter(path) as bag:
        if with_tf_static:
            bag.write("/tf_static", bagio.tf_message([("base_link", CAMERA, *split_transform(base_cam))], T0), T0)
        for i in range(6):
            stamp = T0 + i * 10**8
            pose = _rot_z(0.02 * i)
            pose[:3, 3] = [float(i), 0.1 * i, 0.0]
            truth.append(pose @ base_cam)
            if as_tf:
                bag.write("/tf", bagio.tf_message([("odom", "base_link", *split_transform(pose))], stamp), stamp)
            else:
                bag.write("/wheel/odom", bagio.odometry_msg(pose, stamp, "odom", "base_link", (10.0, 0, 0)), stamp)
            info = bagio.camera_info_msg({"height": 4, "width": 4, "distortion_model": "plumb_bob", "d": [0.0] * 5,
                                          "k": [2, 0, 2, 0, 2, 2, 0, 0, 1], "r": np.eye(3).ravel(),
                                          "p": [2, 0, 2, 0, 0, 2, 2, 0, 0, 0, 1, 0]}, stamp + 5 * 10**7, CAMERA)
            bag.write("/camera/camera_info", info, stamp + 5 * 10**7)
    return truth


@pytest.mark.parametrize("as_tf", [False, True])
def test_camera_trajectory_from_odometry_or_tf(tmp_path: Path, as_tf: bool) -> None:
    truth = _odometry_bag(tmp_path / "bag", with_tf_static=True, as_tf=as_tf)
    with bagio.BagReader(tmp_path / "bag") as reader:
        trajectory = read_camera_trajectory(reader, CAMERA)
    assert trajectory is not None and trajectory.fixed_frame == "odom" and not trajectory.notes
    assert trajectory.source == ("tf" if as_tf else "odometry /wheel/odom (odom -> base_link)")
    for i, pose in enumerate(truth):
        assert np.allclose(trajectory.pose_at(T0 + i * 10**8), pose, atol=1e-9)
    half = trajectory.pose_at(T0 + 15 * 10**7)  # between samples 1 and 2
    assert np.allclose(half[:3, 3], (truth[1][:3, 3] + truth[2][:3, 3]) / 2, atol=1e-9)


def test_odometry_without_camera_transform_assumes_forward_camera_and_says_so(tmp_path: Path) -> None:
    _odometry_bag(tmp_path / "bag", with_tf_static=False)
    with bagio.BagReader(tmp_path / "bag") as reader:
        trajectory = read_camera_trajectory(reader, CAMERA)
        relative = invert(trajectory.pose_at(T0)) @ trajectory.pose_at(T0 + 10**8)
        assert relative[2, 3] > 0.9  # moving forward = +z in the optical frame
        assert any("forward-looking camera" in note for note in trajectory.notes)
        assert read_camera_trajectory(reader, CAMERA, source="none") is None


def test_bag_without_odometry_has_no_trajectory(tmp_path: Path) -> None:
    with bagio.BagWriter(tmp_path / "bag") as bag:
        bag.write("/tf_static", bagio.tf_message([("base_link", CAMERA, [0, 0, 1], [0, 0, 0, 1])], T0), T0)
    with bagio.BagReader(tmp_path / "bag") as reader:
        assert read_camera_trajectory(reader, CAMERA) is None
        with pytest.raises(bagio.BagError, match="no /tf topic"):
            read_camera_trajectory(reader, CAMERA, source="tf")


def test_oxts_poses_follow_the_devkit_mercator_convention() -> None:
    packets = np.zeros((3, 30))
    packets[:, 0:3] = [49.0, 8.4, 110.0]
    packets[1, 0] += 1e-5               # 1e-5 degrees north
    packets[2, 1] += 1e-5               # 1e-5 degrees east
    packets[2, 2] += 2.0                # 2 m up
    packets[:, 5] = np.pi / 2           # heading north (yaw 0 = east, counter-clockwise)
    packets[:, 8] = 5.0                 # forward velocity
    track = oxts_track(packets)
    assert np.allclose(track.poses[0, :3, 3], 0)  # the first packet is the origin
    north = EARTH_RADIUS * np.radians(1e-5)                       # Mercator with scale cos(lat0) at lat0
    east = np.cos(np.radians(49.0)) * EARTH_RADIUS * np.radians(1e-5)
    assert np.allclose(track.poses[1, :3, 3], [0.0, north, 0.0], atol=1e-6)
    assert np.allclose(track.poses[2, :3, 3], [east, 0.0, 2.0], atol=1e-6)
    assert np.allclose(track.poses[0, :3, :3] @ [1, 0, 0], [0, 1, 0])   # the IMU's x (forward) points north
    assert np.allclose(track.velocity[:, 0], 5.0)


def test_kitti2bag_writes_oxts_as_odometry_and_tf(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    drive, _, _ = make_kitti_drive(tmp_path / "kitti", frames=4)
    (drive.parent / "calib_imu_to_velo.txt").write_text(IMU_TO_VELO)
    (drive / "oxts" / "data").mkdir(parents=True)
    stamps = (drive / "image_02" / "timestamps.txt").read_text()
    (drive / "oxts" / "timestamps.txt").write_text(stamps)
    for i in range(4):  # driving east-north-east at 10 m/s, 0.1 s apart
        packet = np.zeros(30)
        packet[:6] = [49.0 + 2e-6 * i, 8.4 + 1e-5 * i, 110.0, 0.01, -0.02, 0.3]
        (drive / "oxts" / "data" / f"{i:010d}.txt").write_text(" ".join(f"{v:.12f}" for v in packet))
    assert main(["kitti2bag", str(drive), "--out", str(tmp_path / "bag")]) == 0
    capsys.readouterr()
    with bagio.BagReader(tmp_path / "bag") as reader:
        assert reader.counts["/odom"] == 4 and reader.counts["/tf"] == 4
        image_stamps = [bagio.stamp_to_ns(m.msg.header.stamp) for m in reader.messages(["/camera/image_raw"])]
        odometry = [m.msg for m in reader.messages(["/odom"])]
        trajectory = read_camera_trajectory(reader, CAMERA)
    assert (odometry[0].header.frame_id, odometry[0].child_frame_id) == ("world", "imu_link")
    # The camera pose the bag implies = OXTS pose @ inv(T_cam_imu), T_cam_imu = T_cam_velo @ T_velo_imu.
    velo = {k: np.array(v.split(), dtype=np.float64) for k, v in
            (line.split(":", 1) for line in IMU_TO_VELO.splitlines()[1:])}
    t_velo_imu = np.eye(4)
    t_velo_imu[:3, :3], t_velo_imu[:3, 3] = velo["R"].reshape(3, 3), velo["T"]
    with bagio.BagReader(tmp_path / "bag") as reader:
        static = [m.msg for m in reader.messages(["/tf_static"])][0].transforms
    velo_cam = next(t for t in static if t.child_frame_id == CAMERA).transform
    t_velo_cam = make_transform([velo_cam.translation.x, velo_cam.translation.y, velo_cam.translation.z],
                                [velo_cam.rotation.x, velo_cam.rotation.y, velo_cam.rotation.z, velo_cam.rotation.w])
    packets = np.array([np.array(p.read_text().split(), dtype=float) for p in sorted((drive / "oxts" / "data").iterdir())])
    expected = oxts_track(packets).poses
    for i, stamp in enumerate(image_stamps):
        camera = expected[i] @ invert(t_velo_imu) @ t_velo_cam
        assert np.allclose(trajectory.pose_at(stamp), camera, atol=1e-6)
    first = odometry[0].pose.pose.orientation
    assert np.allclose(quaternion_to_matrix([first.x, first.y, first.z, first.w]), expected[0][:3, :3], atol=1e-9)
