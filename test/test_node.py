"""The depth node in its own process, driven over localhost DDS with rclpy.

Node A: the shipped config/semdepth.yaml plus test overrides, a namespace and remapped inputs, raw
images. Node B: compressed input, outputs at input resolution, decimated cloud, fixed scale and
fallback intrinsics. Bad input has its own module, test_bad_input.py. Each node starts once per module; tests send frames with unique stamps and wait
for the outputs carrying them.
"""
from __future__ import annotations

import importlib.util
import itertools
import signal
import subprocess
import sys
import textwrap
import time
import types

import cv2
import numpy as np
import pytest
import yaml

from semdepth_ros.checkpoint import default_checkpoint_path
from semdepth_ros.geometry import depth_to_points, scale_intrinsics
from semdepth_ros import codec
from semdepth_ros.ros.fastdds import mirror_profiles_variable
from semdepth_ros.ros.node_process import child_env, node_command

mirror_profiles_variable()  # before rclpy creates a participant (Fast DDS 2.x reads the FASTRTPS_ name)
rclpy = pytest.importorskip("rclpy")
from node_client import (FRAME, H, K, NO_CLOUD, REPO, W, Client, compressed_image,  # noqa: E402
                         context, key, make_image, next_header, raw_image, start, write_yaml)

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image, PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

MAX_RANGE = 0.2                                  # random-init depth is ~0.2 m: both valid and NaN points

@pytest.fixture(scope="module")
def node_a(tmp_path_factory, tiny_checkpoint, context):
    """Shipped params file + overrides, namespace /sd_a, inputs remapped to /cam_a/... .

    Its first frames carry no camera_info; what came back is kept for the camera_info test.
    """
    tmp = tmp_path_factory.mktemp("node_a")
    overrides = write_yaml(tmp / "overrides.yaml", {"publish_colorized": True, "stats_period": 0.3,
                                                    "max_point_range": MAX_RANGE})
    node = start(tmp, "a", ["--params-file", str(REPO / "config" / "semdepth.yaml"), "--params-file",
                            str(overrides), "-p", f"checkpoint:={tiny_checkpoint}", "-p", "backend:=onnxruntime",
                            "-r", "__ns:=/sd_a",
                            "-r", "image:=/cam_a/image_raw", "-r", "camera_info:=/cam_a/camera_info"])
    client = Client(context, "/sd_a", "/cam_a/image_raw", Image, "/cam_a/camera_info")
    try:
        header = next_header()
        first = client.exchange(raw_image(header, make_image()), header, expect=NO_CLOUD, camera_info=None)
        yield node, client, first
    finally:                                  # also when the first frame fails: never leave a node running
        client.node.destroy_node()
        code = node.stop()
    assert code == 0, node.log_text()


@pytest.fixture(scope="module")
def node_b(tmp_path_factory, tiny_checkpoint, context):
    """Compressed input, input-resolution outputs, decimated cloud, fixed scale, fallback intrinsics."""
    tmp = tmp_path_factory.mktemp("node_b")
    params = write_yaml(tmp / "b.yaml", {
        "checkpoint": str(tiny_checkpoint), "use_compressed": True, "output_resolution": "input",
        "cloud_decimation": 2, "scale_mode": "fixed", "fixed_scale": 2.0, "fx": 150.0, "fy": 150.0,
        "stats_period": 0.3, "publish_colorized": True, "backend": "torch"})
    node = start(tmp, "b", ["--params-file", str(params), "-r", "__ns:=/sd_b",
                            "-r", "image/compressed:=/cam_b/image_raw/compressed",
                            "-r", "camera_info:=/cam_b/info"])
    client = Client(context, "/sd_b", "/cam_b/image_raw/compressed", CompressedImage, "/cam_b/info")
    yield node, client
    client.node.destroy_node()
    assert node.stop() == 0, node.log_text()


def decoded(outputs: dict[str, object]) -> dict[str, np.ndarray]:
    depth = codec.image_fields_to_depth(**codec.image_fields(outputs["depth"]))
    mask_msg = outputs["semantic/mask"]
    mask = np.frombuffer(mask_msg.data, np.uint8).reshape(mask_msg.height, mask_msg.width)
    return {"depth": depth, "mask": mask,
            "overlay": codec.image_to_rgb(**codec.image_fields(outputs["semantic/overlay"])),
            "colorized": codec.image_to_rgb(**codec.image_fields(outputs["depth/colorized"]))}


def check_images(outputs: dict[str, object], header: Header, size: tuple[int, int], rgb: np.ndarray,
                 depth_range: tuple[float, float] = (0.1, 100.0)) -> dict[str, np.ndarray]:
    """Headers, encodings, sizes and value ranges of the image outputs; returns them decoded."""
    for topic, msg in outputs.items():
        assert (key(msg.header), msg.header.frame_id) == (key(header), FRAME), topic
    encodings = {"depth": "32FC1", "semantic/mask": "mono8", "semantic/overlay": "rgb8",
                 "depth/colorized": "rgb8"}
    for topic, encoding in encodings.items():
        msg = outputs[topic]
        assert (msg.encoding, msg.height, msg.width) == (encoding, *size), topic
    out = decoded(outputs)
    valid = np.isfinite(out["depth"])
    assert valid.any()
    assert (out["depth"][valid] >= depth_range[0]).all() and (out["depth"][valid] <= depth_range[1]).all()
    assert set(np.unique(out["mask"])) <= {0, 255}
    background = out["mask"] == 0
    np.testing.assert_array_equal(out["overlay"][background], rgb[background])   # only foreground is tinted
    return out


def published_K(outputs: dict[str, object], size: tuple[int, int]) -> np.ndarray:
    info = outputs["depth/camera_info"]
    assert (info.height, info.width) == size
    np.testing.assert_allclose(np.reshape(info.p, (3, 4))[:, :3], np.reshape(info.k, (3, 3)))
    return codec.camera_info_to_K(info.k)


def check_cloud(outputs: dict[str, object], depth: np.ndarray, K_out: np.ndarray, rgb: np.ndarray,
                mask: np.ndarray, max_range: float, step: int = 1) -> None:
    """The cloud is the back-projection of the published depth with the published camera_info."""
    cloud = outputs["points"]
    arrays = codec.cloud_fields_to_arrays(**codec.cloud_fields(cloud))
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb", "label"]
    assert cloud.fields[3].datatype == 7
    expected = depth_to_points(depth, K_out)
    expected[~(np.isfinite(depth) & (depth <= max_range))] = np.nan
    xyz = np.stack([arrays["x"], arrays["y"], arrays["z"]], axis=-1)
    if step == 1:
        assert (cloud.height, cloud.width, cloud.is_dense) == (*depth.shape, False)
        np.testing.assert_allclose(xyz, expected, rtol=1e-5, atol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(codec.unpack_rgb(arrays["rgb"]), rgb)
        np.testing.assert_array_equal(arrays["label"], mask // 255)
        return
    expected, rgb, mask = expected[::step, ::step], rgb[::step, ::step], mask[::step, ::step]
    valid = np.isfinite(expected).all(axis=-1)
    assert (cloud.height, cloud.width, cloud.is_dense) == (1, int(valid.sum()), True)
    np.testing.assert_allclose(xyz[0], expected[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(codec.unpack_rgb(arrays["rgb"][0]), rgb[valid])
    np.testing.assert_array_equal(arrays["label"][0], mask[valid] // 255)


# --- node A: raw images ------------------------------------------------------------------------------
def test_without_camera_info_depth_and_mask_but_no_cloud(node_a) -> None:
    node, _, first = node_a
    assert set(first) == NO_CLOUD
    assert "no camera_info on /cam_a/camera_info and no fallback intrinsics" in node.log_text()


def test_engines_named_in_the_ready_line(node_a, node_b) -> None:
    """Node A runs the ONNX Runtime engine (every node A test goes through it), node B PyTorch."""
    assert "(onnxruntime CPUExecutionProvider" in node_a[0].log_text()
    assert "(torch fp32 channels_last, host stages)" in node_b[0].log_text()


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_every_encoding_gives_all_outputs(node_a, encoding: str) -> None:
    _, client, _ = node_a
    header = next_header()
    rgb = make_image(seed=len(encoding))
    if encoding == "mono8":
        rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    outputs = client.exchange(raw_image(header, rgb, encoding), header)
    out = check_images(outputs, header, (H, W), rgb)
    K_out = published_K(outputs, (H, W))
    np.testing.assert_allclose(K_out, K)
    check_cloud(outputs, out["depth"], K_out, rgb, out["mask"], MAX_RANGE)
    z = codec.cloud_fields_to_arrays(**codec.cloud_fields(outputs["points"]))["z"]
    assert 0 < np.isfinite(z).sum() < H * W, "MAX_RANGE should leave both valid and NaN points"
    # Beyond max_point_range the depth image is NaN too, at exactly the cloud's NaN points.
    np.testing.assert_array_equal(np.isfinite(out["depth"]), np.isfinite(z))
    assert np.nanmax(out["depth"]) <= MAX_RANGE


def test_intrinsics_rescaled_to_network_resolution(node_a) -> None:
    _, client, _ = node_a
    header = next_header()
    rgb = make_image(96, 288, seed=7)
    K_in = np.array([[180.0, 0.0, 143.5], [0.0, 177.0, 47.5], [0.0, 0.0, 1.0]])
    outputs = client.exchange(raw_image(header, rgb), header, camera_info=K_in)
    K_out = published_K(outputs, (H, W))
    np.testing.assert_allclose(K_out, scale_intrinsics(K_in, W / 288, H / 96), rtol=1e-9)
    out = decoded(outputs)
    base = codec.unpack_rgb(codec.cloud_fields_to_arrays(**codec.cloud_fields(outputs["points"]))["rgb"])
    check_cloud(outputs, out["depth"], K_out, base, out["mask"], MAX_RANGE)
    np.testing.assert_array_equal(base[out["mask"] == 0], out["overlay"][out["mask"] == 0])


def test_burst_answers_newest_and_drops_the_rest(node_a) -> None:
    _, client, _ = node_a
    rgb = make_image(seed=5)
    singles = []
    for _ in range(3):
        header, sent = next_header(), time.monotonic()
        client.exchange(raw_image(header, rgb), header, expect={"depth"})
        singles.append(client.received[("depth", key(header))][1] - sent)
    single = float(np.median(singles))
    settled = lambda c: c["received"] == c["processed"] + c["dropped"] + c["errors"] + c["idle"]  # noqa: E731
    before = client.counters(settled)
    headers = [next_header() for _ in range(50)]
    images = [raw_image(h, rgb) for h in headers]
    for h, image in zip(headers, images):                # ~200 Hz, several times the node's rate
        client.send(h, image)
        time.sleep(0.005)
    last_sent = time.monotonic()
    assert client.spin_until(lambda: ("depth", key(headers[-1])) in client.received)
    latency = client.received[("depth", key(headers[-1]))][1] - last_sent
    answered = sum(("depth", key(h)) in client.received for h in headers)
    assert answered < 25, f"{answered} of 50 burst frames processed: frames are queued, not dropped"
    # The newest frame waits at most for the frame in progress; a queue would add one frame time per frame.
    assert latency < 8 * single + 1.5, f"newest frame took {latency:.2f} s (single frame {single:.2f} s)"
    after = client.counters(settled)
    delta = {name: after[name] - before[name] for name in before}
    # Frames the node took from DDS were processed or dropped (counted); the keep-last-1 input reader
    # itself replaces frames the executor did not take in time (never received, so not counted).
    # Reliable keep-last-1 outputs may replace an unacknowledged sample, so answered <= processed.
    assert delta["received"] <= 50 and delta["errors"] == delta["idle"] == 0, delta
    assert answered <= delta["processed"] < 25 and delta["received"] == delta["processed"] + delta["dropped"]


def test_no_inference_without_subscribers(node_a) -> None:
    _, client, _ = node_a
    rgb = make_image(seed=9)

    def send_one() -> dict[str, int]:
        header = next_header()
        client.send(header, raw_image(header, rgb))
        return client.counters()

    client.unsubscribe_outputs()
    try:
        before = client.counters()
        # Until the node notices the unsubscription frames may still be processed; then only idle grows.
        assert any(send_one()["idle"] >= before["idle"] + 2 for _ in range(30))
        settled = send_one()
        after = [send_one() for _ in range(4)][-1]
        assert after["processed"] == settled["processed"] and after["idle"] > settled["idle"]
    finally:
        client.subscribe_outputs()


# --- node B: compressed input ----------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_compressed_input_with_fallback_intrinsics(node_b, ext: str) -> None:
    _, client = node_b
    header = next_header()
    rgb = make_image(48, 160, seed=11)      # not the network size: outputs are upsampled to it
    msg = compressed_image(header, rgb, ext)
    outputs = client.exchange(msg, header, camera_info=None)
    received_rgb = codec.compressed_to_rgb(msg.format, msg.data)    # jpeg: the decoded, lossy colours
    if ext == ".png":
        np.testing.assert_array_equal(received_rgb, rgb)
    out = check_images(outputs, header, (48, 160), received_rgb, depth_range=(0.2, 200.0))
    K_out = published_K(outputs, (48, 160))
    np.testing.assert_allclose(K_out, [[150.0, 0, 79.5], [0, 150.0, 23.5], [0, 0, 1]])
    check_cloud(outputs, out["depth"], K_out, received_rgb, out["mask"], 80.0, step=2)


# --- start-up, transport and packaging ------------------------------------------------------------
def test_start_up_failures_exit_with_one_clear_line(tmp_path, tiny_checkpoint) -> None:
    cases = {
        "checkpoint not found": ["-p", f"checkpoint:={tmp_path / 'missing.pt'}"],
        "cloud_decimation": ["-p", f"checkpoint:={tiny_checkpoint}", "-p", "cloud_decimation:=0"],
        "scale_mode = 'metric' is not one of": ["-p", f"checkpoint:={tiny_checkpoint}",
                                                "-p", "scale_mode:=metric"],
        "backend = 'tensorrt' is not one of": ["-p", f"checkpoint:={tiny_checkpoint}", "-p", "backend:=tensorrt"],
        "backend 'onnxruntime' runs fp32": ["-p", f"checkpoint:={tiny_checkpoint}", "-p", "backend:=onnxruntime",
                                            "-p", "precision:=bf16"],
    }
    if default_checkpoint_path() is None:
        cases["no checkpoint: set the 'checkpoint' parameter"] = []
    runs = {text: subprocess.Popen(node_command(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=child_env())
            for text, args in cases.items()}
    for text, run in runs.items():
        output = run.communicate(timeout=120)[0]
        assert run.returncode == 1 and text in output and "Traceback" not in output, output


def test_help_prints_parameters_and_topics_without_starting_ros() -> None:
    from semdepth_ros.outputs import OUTPUTS as OUTPUT_TABLE
    from semdepth_ros.ros.params import SPECS
    env = {k: v for k, v in child_env().items() if not k.startswith("ROS_")}
    for flag in ("--help", "-h"):
        run = subprocess.run(node_command([])[:-1] + [flag], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0 and run.stdout.startswith("usage: depth_node"), run.stdout + run.stderr
        assert not run.stderr and "ready:" not in run.stdout
        for name in [*SPECS, *(out.topic for out in OUTPUT_TABLE.values()), "image/compressed", "camera_info"]:
            assert name in run.stdout, name
        assert "Examples:" in run.stdout and "-r image:=/camera/image_raw" in run.stdout


PUBLISHER = textwrap.dedent("""
    import time
    import numpy as np, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from semdepth_ros import codec
    from semdepth_ros.ros import messages
    from semdepth_ros.ros.fastdds import mirror_profiles_variable
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import Header
    mirror_profiles_variable()
    rclpy.init()
    node = rclpy.create_node("cloud_source")
    pubs = [node.create_publisher(PointCloud2, f"/big_cloud/{name}", QoSProfile(depth=1, reliability=policy))
            for name, policy in (("best_effort", ReliabilityPolicy.BEST_EFFORT),
                                 ("reliable", ReliabilityPolicy.RELIABLE))]
    rng = np.random.default_rng(0)
    fields = codec.points_to_cloud_fields(rng.normal(size=(375, 1242, 3)).astype(np.float32),
        rng.integers(0, 256, (375, 1242, 3), dtype=np.uint8), rng.integers(0, 2, (375, 1242), dtype=np.uint8))
    deadline = time.monotonic() + 60
    while min(p.get_subscription_count() for p in pubs) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    for i in range(10):
        for pub in pubs:
            pub.publish(messages.cloud_msg(Header(frame_id=str(i)), fields))
        time.sleep(0.2)
    time.sleep(2.0)
""")


def test_fastdds_profile_delivers_full_resolution_clouds(context) -> None:
    """9.3 MB organised clouds between two processes (without the profile, best effort gets none
    through). Reliable must deliver every cloud; best effort may lose one to a CPU-starved reader."""
    node = rclpy.create_node("cloud_sink", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    got: dict[str, list[PointCloud2]] = {"best_effort": [], "reliable": []}
    policies = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
    for name, policy in policies.items():
        node.create_subscription(PointCloud2, f"/big_cloud/{name}", got[name].append,
                                 QoSProfile(depth=10, reliability=policy))
    source = subprocess.Popen([sys.executable, "-c", PUBLISHER], env=child_env())
    try:
        deadline = time.monotonic() + 90
        while source.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.05)
        assert source.wait(timeout=10) == 0
    finally:
        if source.poll() is None:
            source.kill()
        node.destroy_node()
    assert [m.header.frame_id for m in got["reliable"]] == [str(i) for i in range(10)]
    assert len(got["best_effort"]) >= 9, [m.header.frame_id for m in got["best_effort"]]
    cloud = got["reliable"][-1]
    assert len(cloud.data) == 375 * 1242 * cloud.point_step == 9_315_000
    arrays = codec.cloud_fields_to_arrays(**codec.cloud_fields(cloud))
    expected = np.random.default_rng(0).normal(size=(375, 1242, 3)).astype(np.float32)
    np.testing.assert_array_equal(arrays["z"], expected[..., 2])


class _Recorded:
    """Stands in for a launch action/description: remembers how the launch file built it."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: dict[str, str]) -> str:
        return context[self.name]


def _fake_launch_modules() -> dict[str, types.ModuleType]:
    """launch / launch_ros / ament_index_python replacements that record what the file asks for."""
    modules = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch_ros", "launch_ros.actions",
        "ament_index_python", "ament_index_python.packages")}
    modules["launch"].LaunchDescription = type("LaunchDescription", (_Recorded,), {})
    modules["launch"].LaunchContext = dict
    for name in ("DeclareLaunchArgument", "OpaqueFunction", "SetEnvironmentVariable"):
        setattr(modules["launch.actions"], name, type(name, (_Recorded,), {}))
    modules["launch.substitutions"].LaunchConfiguration = _LaunchConfiguration
    modules["launch_ros.actions"].Node = type("Node", (_Recorded,), {})
    modules["ament_index_python.packages"].get_package_share_directory = lambda pkg: f"/opt/share/{pkg}"
    return modules


def test_launch_file_runs_the_installed_node_with_the_shipped_config(monkeypatch) -> None:
    """Without launch_ros here, the launch file runs against recording fakes of its imports."""
    for name, module in _fake_launch_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("depth_launch", REPO / "launch" / "depth.launch.py")
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)
    entities = launch_file.generate_launch_description().args[0]
    kinds = {type(e).__name__: [x for x in entities if type(x) is type(e)] for e in entities}
    defaults = {a.args[0]: a.kwargs["default_value"] for a in kinds["DeclareLaunchArgument"]}
    assert set(defaults) == {"params_file", "checkpoint", "image", "camera_info", "namespace", "device",
                             "use_sim_time"}
    assert defaults["params_file"] == "/opt/share/semdepth_ros/config/semdepth.yaml"
    profile = "/opt/share/semdepth_ros/config/fastdds_shm.xml"
    assert {e.args for e in kinds["SetEnvironmentVariable"]} == {
        ("FASTDDS_DEFAULT_PROFILES_FILE", profile), ("FASTRTPS_DEFAULT_PROFILES_FILE", profile)}
    for name in ("semdepth.yaml", "fastdds_shm.xml"):
        assert (REPO / "config" / name).is_file()

    (opaque,) = kinds["OpaqueFunction"]
    (node,) = opaque.kwargs["function"](defaults | {"checkpoint": "/models/m.pt", "image": "/cam/image"})
    assert {k: node.kwargs[k] for k in ("package", "executable", "name", "namespace")} == {
        "package": "semdepth_ros", "executable": "depth_node", "name": "depth_node", "namespace": "semdepth"}
    # The empty device argument leaves the params file's value alone.
    assert node.kwargs["parameters"] == [defaults["params_file"],
                                         {"use_sim_time": False, "checkpoint": "/models/m.pt"}]
    assert set(node.kwargs["remappings"]) == {("image", "/cam/image"), ("camera_info", "/camera/camera_info"),
                                              ("image/compressed", "/cam/image/compressed")}

    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/my/profile.xml")    # a user's own choice wins
    assert not any(type(e).__name__ == "SetEnvironmentVariable"
                   for e in launch_file.generate_launch_description().args[0])


LAUNCHER = textwrap.dedent("""
    import sys
    from launch import LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    service = LaunchService()
    service.include_launch_description(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(sys.argv[1]),
        launch_arguments={"checkpoint": sys.argv[2], "namespace": "sd_launch", "device": "cpu"}.items()))
    sys.exit(service.run())
""")


def test_launch_file_for_real(tiny_checkpoint) -> None:
    """On a ROS 2 install with this package built (colcon), launch it and wait for the node."""
    pytest.importorskip("launch_ros")
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        get_package_share_directory("semdepth_ros")
    except PackageNotFoundError:
        pytest.skip("semdepth_ros is not in an ament index (colcon build, source install/setup.bash)")
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(REPO / "launch" / "depth.launch.py"),
                                 str(tiny_checkpoint)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=child_env())
    try:
        lines = iter(launcher.stdout.readline, "")
        assert any("ready:" in line for line in itertools.islice(lines, 500))
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=30)


def test_setup_installs_the_node_launch_and_config() -> None:
    text = (REPO / "setup.py").read_text()
    assert "depth_node = semdepth_ros.ros.depth_node:main" in text
    assert "launch" in text and "config" in text


def test_rviz_config_shows_the_node_topics() -> None:
    config = yaml.safe_load((REPO / "config" / "semdepth.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == FRAME
    topics: dict[str, list[str]] = {}
    for display in manager["Displays"]:
        if "Topic" in display:
            topics.setdefault(display["Class"], []).append(display["Topic"]["Value"])
    # The launch file's defaults: input /camera/image_raw, outputs in namespace /semdepth.
    assert set(topics["rviz_default_plugins/Image"]) == {"/camera/image_raw", "/semdepth/depth",
                                                          "/semdepth/semantic/overlay"}
    assert topics["rviz_default_plugins/PointCloud2"] == ["/semdepth/points"]
    cloud = next(d for d in manager["Displays"] if d["Class"] == "rviz_default_plugins/PointCloud2")
    assert cloud["Color Transformer"] == "RGB8"
