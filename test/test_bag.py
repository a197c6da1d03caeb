"""Bag tools on real rosbag2 files: kitti2bag round trips, eval-bag offline / live, broken bags."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from semdepth_ros.bag import io as bagio
from semdepth_ros.bag.eval_bag import OUTPUT_NAMESPACE, EvalOptions, evaluate_offline
from semdepth_ros.bag.report import write_report
from semdepth_ros.bag.transforms import invert, make_transform, matrix_to_quaternion, quaternion_to_matrix
from semdepth_ros.cli.main import main
from semdepth_ros.outputs import OUTPUTS, enabled
from semdepth_ros.predictor import Prediction
from semdepth_ros import codec
from semdepth_synth.sequence import SynthConfig, generate_sequence

from bag_helpers import CAMERA, lidar_rig, make_kitti_drive, write_synth_bag
from kitti_calib_text import CAM_TO_CAM, VELO_TO_CAM


def _semdepth(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# --- kitti2bag ------------------------------------------------------------------------------------

def test_quaternion_order_is_geometry_msgs_xyzw() -> None:
    rot_z_90 = quaternion_to_matrix([0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)])
    assert np.allclose(rot_z_90, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert np.allclose(matrix_to_quaternion(rot_z_90), [0, 0, np.sqrt(0.5), np.sqrt(0.5)])


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_kitti2bag_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture, storage: str) -> None:
    drive, images, scans = make_kitti_drive(tmp_path / "kitti")
    bag = tmp_path / f"drive_{storage}"
    code, out, err = _semdepth(capsys, "kitti2bag", drive, "--out", bag, "--storage", storage)
    assert code == 0, err
    assert (bag / f"{bag.name}.{'mcap' if storage == 'mcap' else 'db3'}").is_file()

    with bagio.BagReader(bag) as reader:
        assert reader.counts == {"/tf_static": 1, "/camera/camera_info": 3, "/camera/image_raw": 3,
                                 "/velodyne_points": 3}
        by_topic: dict[str, list] = {}
        for item in reader.messages(reader.topics):
            by_topic.setdefault(item.topic, []).append(item)
    first = by_topic["/camera/image_raw"][0].msg
    # 2011-09-26 13:02:25.967389445 read as UTC
    assert bagio.stamp_to_ns(first.header.stamp) == 1317042145_967389445
    assert by_topic["/camera/image_raw"][0].time_ns == 1317042145_967389445
    for item, rgb in zip(by_topic["/camera/image_raw"], images):
        msg = item.msg
        assert msg.encoding == "rgb8" and msg.header.frame_id == CAMERA
        decoded = codec.image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        assert np.array_equal(decoded, rgb)
    p_rect = np.array(CAM_TO_CAM.split("P_rect_02:")[1].split(), dtype=np.float64).reshape(3, 4)
    for item in by_topic["/camera/camera_info"]:
        info = item.msg  # K of the 1242x375 calibration, rescaled to the 124x40 test images (pixel centres kept)
        sx, sy = 124 / 1242, 40 / 375
        expected = [[p_rect[0, 0] * sx, 0, (p_rect[0, 2] + 0.5) * sx - 0.5],
                    [0, p_rect[1, 1] * sy, (p_rect[1, 2] + 0.5) * sy - 0.5], [0, 0, 1]]
        assert np.allclose(codec.camera_info_to_K(info.k), expected)
        assert not np.any(info.d) and np.allclose(info.r, np.eye(3).ravel())
        assert (info.width, info.height) == (124, 40)
    for item, scan in zip(by_topic["/velodyne_points"], scans):
        msg = item.msg
        assert msg.header.frame_id == "velodyne"
        arrays = codec.cloud_fields_to_arrays(msg.fields, msg.data, msg.point_step, msg.height, msg.width,
                                              msg.row_step, msg.is_bigendian)
        got = np.stack([arrays[k].ravel() for k in ("x", "y", "z", "intensity")], axis=1)
        assert np.array_equal(got, scan)

    (tf,) = by_topic["/tf_static"][0].msg.transforms
    assert (tf.header.frame_id, tf.child_frame_id) == ("velodyne", CAMERA)
    tr, q = tf.transform.translation, tf.transform.rotation
    t_velo_cam = make_transform([tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w])
    # K [R|t]_cam<-velo must reproduce KITTI's projection P_rect_02 @ R_rect_00 @ [R|T]_velo->cam.
    calib = {k: np.array(v.split(), dtype=np.float64)
             for k, v in (line.split(":", 1) for line in (CAM_TO_CAM + VELO_TO_CAM).splitlines())
             if k in ("R_rect_00", "R", "T")}
    rect = np.eye(4)
    rect[:3, :3] = calib["R_rect_00"].reshape(3, 3)
    velo = np.eye(4)
    velo[:3, :3], velo[:3, 3] = calib["R"].reshape(3, 3), calib["T"]
    kitti_projection = p_rect @ rect @ velo
    ours = p_rect[:, :3] @ invert(t_velo_cam)[:3]
    assert np.allclose(ours, kitti_projection, atol=1e-4 * np.abs(kitti_projection).max())


def test_kitti2bag_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    drive, _, _ = make_kitti_drive(tmp_path / "kitti")
    (drive / "image_02" / "data" / "0000000001.png").unlink()
    (drive.parent / "calib_velo_to_cam.txt").unlink()
    code, _, err = _semdepth(capsys, "kitti2bag", drive, "--out", tmp_path / "bag")
    assert code == 1
    assert "0000000001" in err and "calib_velo_to_cam.txt" in err
    assert not (tmp_path / "bag").exists()


# --- eval-bag -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synth_frames() -> list:
    return list(generate_sequence(SynthConfig(height=64, width=192, num_frames=12, seed=3)))


class PerfectDepth:
    """Stand-in predictor returning the renderer's depth for each image (found by its pixels)."""

    def __init__(self, frames: list) -> None:
        self.depth = {hashlib.sha1(f.rgb.tobytes()).hexdigest(): np.where(np.isfinite(f.depth), f.depth, 100.0)
                      for f in frames}

    def predict_batch(self, images: list[np.ndarray], intrinsics: np.ndarray | None = None, output: str = "network",
                      scale: float | None = None, with_points: bool = True) -> list[Prediction]:
        predictions = []
        for image in images:
            depth = self.depth[hashlib.sha1(image.tobytes()).hexdigest()].astype(np.float32)
            zeros = np.zeros(depth.shape, np.uint8)
            predictions.append(Prediction(depth, zeros.astype(np.float32), zeros, None, intrinsics, {"network": 0.0}))
        return predictions


def read_outputs(out: Path) -> tuple[dict, list[dict]]:
    """metrics.json and per_frame.csv (both must parse), with the plots whenever frames were done."""
    for name in ("report.md", "metrics.json", "per_frame.csv"):
        assert (out / name).is_file(), name
    with (out / "per_frame.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    doc = json.loads((out / "metrics.json").read_text())
    if doc["evaluated"]:
        assert (out / "per_frame_abs_rel.png").is_file() and (out / "error_by_range.png").is_file()
    return doc, rows


@pytest.mark.parametrize("scale", ["median", "checkpoint"])
def test_eval_offline_perfect_depth_is_exact(tmp_path: Path, synth_frames: list, scale: str) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames)
    result = evaluate_offline(bag, PerfectDepth(synth_frames), EvalOptions(scale=scale))
    assert result.error is None
    assert result.topics.gt_kind == "lidar" and result.topics.gt == "/velodyne_points"
    summary = result.summary
    assert summary["evaluated"] == len(synth_frames)
    assert summary["metrics"]["abs_rel"] < 1e-5 and summary["metrics"]["rmse"] < 1e-3
    assert summary["metrics"]["a1"] == 1.0
    assert summary["by_range"]["all"]["abs_rel"] < 1e-5 and summary["by_range"]["all"]["count"] > 1000
    assert all(abs(float(r["gt_dt_ms"]) - 4.0) < 1e-6 for r in result.rows)

    doc, rows = read_outputs(write_report(result, tmp_path / "report").parent)
    assert doc["status"] == "ok" and doc["metrics"]["abs_rel"] < 1e-5
    assert len(rows) == len(synth_frames) and {r["status"] for r in rows} == {"ok"}
    assert (tmp_path / "report" / "qualitative.png").is_file()


def test_eval_offline_real_predictor_and_record(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                synth_frames: list, tiny_checkpoint: Path) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames[:4], storage="sqlite3")
    out, record = tmp_path / "report", tmp_path / "recorded"
    code, stdout, err = _semdepth(capsys, "eval-bag", bag, "--checkpoint", tiny_checkpoint, "--device", "cpu",
                                  "--out", out, "--record", record)
    assert code == 0, err
    doc, rows = read_outputs(out)
    assert doc["status"] == "ok" and doc["evaluated"] == 4
    assert all(np.isfinite(doc["metrics"][m]) for m in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1"))
    assert all(float(r["abs_rel"]) >= 0 for r in rows)
    assert "abs_rel" in stdout and "Abs Rel" in (out / "report.md").read_text()
    _check_recording(record, 4)


def _check_recording(record: Path, frames: int) -> None:
    """The recorded mcap holds inputs and the node's outputs, the outputs with the inputs' stamps."""
    assert (record / f"{record.name}.mcap").is_file()
    with bagio.BagReader(record) as reader:
        for topic in ("/camera/image_raw", "/camera/camera_info", "/velodyne_points", "/semdepth/depth",
                      "/semdepth/semantic/mask", "/semdepth/semantic/overlay", "/semdepth/points"):
            assert reader.counts.get(topic) == frames, topic
        stamps: dict[str, set[int]] = {}
        for item in reader.messages(["/camera/image_raw", "/semdepth/depth", "/semdepth/semantic/mask",
                                     "/semdepth/points"]):
            stamps.setdefault(item.topic, set()).add(bagio.stamp_to_ns(item.msg.header.stamp))
            if item.topic == "/semdepth/depth":
                assert item.msg.encoding == "32FC1" and item.msg.header.frame_id == CAMERA
    assert len({frozenset(s) for s in stamps.values()}) == 1


def test_eval_live_through_the_node(tmp_path: Path, capsys: pytest.CaptureFixture, synth_frames: list,
                                    tiny_checkpoint: Path) -> None:
    """Live replay through the node in its own process; its recorded answers equal what eval-bag --record
    stores offline for the same frames (one output builder, same scale, distortion passed on)."""
    bag = write_synth_bag(tmp_path / "synth", synth_frames[:6], distortion=[0.01, -0.002, 0.0005, 0.0, 0.0])
    out, record = tmp_path / "report", tmp_path / "recorded"
    code, stdout, err = _semdepth(capsys, "eval-bag", bag, "--live", "--checkpoint", tiny_checkpoint,
                                  "--device", "cpu", "--out", out, "--record", record, "--timeout", "5")
    assert code == 0, err + (out / "node.log").read_text()
    doc, rows = read_outputs(out)
    live = doc["live"]
    assert live["frames_sent"] == 6 and live["answered"] + live["dropped"] == 6
    assert live["answered"] >= 1 and live["latency_p50_ms"] > 0 and live["latency_max_ms"] >= live["latency_p50_ms"]
    answered = [r for r in rows if r["status"] != "dropped"]
    assert len(answered) == live["answered"] and all(float(r["latency_ms"]) > 0 for r in answered)
    assert doc["evaluated"] == live["answered"] and np.isfinite(doc["metrics"]["abs_rel"])
    assert "latency" in stdout
    with bagio.BagReader(record) as reader:
        assert reader.counts["/camera/image_raw"] == 6
        for topic in ("/semdepth/depth", "/semdepth/semantic/mask", "/semdepth/points"):
            assert reader.counts.get(topic) == live["answered"], topic
        inputs, outputs = set(), set()
        for item in reader.messages(["/camera/image_raw", "/semdepth/depth", "/semdepth/points"]):
            (inputs if item.topic == "/camera/image_raw" else outputs).add(bagio.stamp_to_ns(item.msg.header.stamp))
    assert outputs <= inputs and len(outputs) == live["answered"]

    offline = tmp_path / "recorded_offline"
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--checkpoint", tiny_checkpoint, "--device", "cpu",
                             "--out", tmp_path / "report_offline", "--record", offline)
    assert code == 0, err
    published, stored = recorded_outputs(record), recorded_outputs(offline)
    assert {topic for topic, _ in stored} == {f"/semdepth/{OUTPUTS[name].topic}" for name in enabled()}
    assert {stamp for _, stamp in published} == outputs and set(published) <= set(stored)
    assert set(published) == {(topic, stamp) for topic, stamp in stored if stamp in outputs}
    for key, msg in published.items():
        assert_same_message(msg, stored[key], key)


def recorded_outputs(bag: Path) -> dict[tuple[str, int], object]:
    """The network outputs of a recording by (topic, header stamp)."""
    with bagio.BagReader(bag) as reader:
        topics = [topic for topic in reader.topics if topic.startswith(OUTPUT_NAMESPACE + "/")]
        return {(item.topic, bagio.stamp_to_ns(item.msg.header.stamp)): item.msg for item in reader.messages(topics)}


def assert_same_message(a, b, key: tuple[str, int]) -> None:
    """Same type, header frame and content; floating-point payloads to 1e-5 (two processes' kernels)."""
    assert (a.__msgtype__, a.header.frame_id) == (b.__msgtype__, b.header.frame_id), key
    if a.__msgtype__ == codec.CAMERA_INFO:
        assert (a.width, a.height, a.distortion_model) == (b.width, b.height, b.distortion_model), key
        for name in ("d", "k", "r", "p"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), err_msg=str(key))
        assert list(a.d) == [0.01, -0.002, 0.0005, 0.0, 0.0]
        return
    if a.__msgtype__ == codec.POINT_CLOUD:
        arrays = [codec.cloud_fields_to_arrays(**codec.cloud_fields(m)) for m in (a, b)]
        assert (a.height, a.width, a.point_step, a.is_dense) == (b.height, b.width, b.point_step, b.is_dense), key
        assert arrays[0].keys() == arrays[1].keys() == {"x", "y", "z", "rgb", "label"}
        for name in "xyz":
            np.testing.assert_allclose(arrays[0][name], arrays[1][name], rtol=1e-5, equal_nan=True, err_msg=str(key))
        for name in ("rgb", "label"):
            np.testing.assert_array_equal(arrays[0][name].view(np.uint32) if name == "rgb" else arrays[0][name],
                                          arrays[1][name].view(np.uint32) if name == "rgb" else arrays[1][name])
        return
    assert (a.height, a.width, a.encoding, a.step) == (b.height, b.width, b.encoding, b.step), key
    if a.encoding == "32FC1":
        depths = [codec.image_fields_to_depth(**codec.image_fields(m)) for m in (a, b)]
        np.testing.assert_allclose(depths[0], depths[1], rtol=1e-5, err_msg=str(key))
    else:
        np.testing.assert_array_equal(a.data, b.data, err_msg=str(key))


def test_eval_truncated_bag_keeps_partial_results(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  synth_frames: list, tiny_checkpoint: Path) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames)
    storage = bag / "synth.mcap"
    os.truncate(storage, int(storage.stat().st_size * 0.7))   # a recorder killed mid-write
    out = tmp_path / "report"
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--checkpoint", tiny_checkpoint, "--device", "cpu",
                             "--out", out)
    assert code == 1 and "truncated" in err
    doc, rows = read_outputs(out)
    assert doc["status"] == "error" and "truncated" in doc["error"]
    assert 0 < doc["evaluated"] < len(synth_frames) and len(rows) == doc["frames"]
    assert "ERROR" in (out / "report.md").read_text()


def test_eval_unreadable_sqlite_bag_is_clear(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            synth_frames: list) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames[:3], storage="sqlite3")
    db = bag / "synth.db3"
    os.truncate(db, db.stat().st_size // 2)
    result = evaluate_offline(bag, PerfectDepth(synth_frames), EvalOptions())
    assert result.error and str(bag) in result.error and result.rows == []
    doc, rows = read_outputs(write_report(result, tmp_path / "report").parent)
    assert doc["status"] == "error" and rows == []


def test_eval_bag_without_metadata_is_read_from_its_storage_file(tmp_path: Path, synth_frames: list) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames[:3])
    (bag / "metadata.yaml").unlink()   # the recorder died before writing it
    result = evaluate_offline(bag, PerfectDepth(synth_frames), EvalOptions())
    assert result.error is None and result.summary["evaluated"] == 3
    assert any("metadata.yaml" in note for note in result.notes)


def test_eval_missing_topic_and_camera_info(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            synth_frames: list, tiny_checkpoint: Path) -> None:
    bag = write_synth_bag(tmp_path / "synth", synth_frames[:2])
    out = tmp_path / "missing_topic"
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--checkpoint", tiny_checkpoint, "--device", "cpu",
                             "--out", out, "--lidar-topic", "/ouster/points")
    assert code == 1 and "/ouster/points" in err and "/velodyne_points" in err
    assert read_outputs(out)[0]["status"] == "error"

    no_info = write_synth_bag(tmp_path / "no_info", synth_frames[:2], with_info=False)
    out = tmp_path / "no_info_report"
    code, _, err = _semdepth(capsys, "eval-bag", no_info, "--checkpoint", tiny_checkpoint, "--device", "cpu",
                             "--out", out)
    assert code == 1 and "CameraInfo" in err
    doc, rows = read_outputs(out)
    assert "CameraInfo" in doc["error"] and rows == []


def test_eval_extrinsic_overrides_missing_tf(tmp_path: Path, synth_frames: list) -> None:
    frames = synth_frames[:2]
    bag = write_synth_bag(tmp_path / "synth", frames)
    stripped = tmp_path / "no_tf"
    with bagio.BagReader(bag) as reader, bagio.BagWriter(stripped) as writer:
        for item in reader.messages(t for t in reader.topics if t != "/tf_static"):
            writer.write_raw(item.topic, item.msg.__msgtype__, item.raw, item.time_ns)
    result = evaluate_offline(stripped, PerfectDepth(frames), EvalOptions())
    assert result.error and "--extrinsic" in result.error
    base_velo, base_cam = lidar_rig()
    extrinsic = invert(base_cam) @ base_velo          # the LiDAR's pose in the camera frame
    result = evaluate_offline(stripped, PerfectDepth(frames), EvalOptions(extrinsic=extrinsic))
    assert result.error is None and result.summary["metrics"]["abs_rel"] < 1e-5
