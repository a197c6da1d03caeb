"""Bad input for the depth node in its own process over DDS; every case is followed by a good frame.

Each case asserts that the node is still alive, answers the good frame with the outputs it should,
and logged the fault exactly once, tagged with its kind ("[data_size] ..."). Faults that are counted
are sent twice, the second time with other numbers, and waited for: one log line for both shows the
throttle works per kind of fault, and each case logging its own kind right after another case's
kind shows that one fault does not hide another.

Node R: raw images, default input QoS (best effort). Node C: compressed images, input_reliability
reliable, rescale_mismatched_camera_info true. A bad checkpoint is bad input too: the node must refuse
it at start-up with one line.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros import codec
from semdepth_ros.geometry import scale_intrinsics
from semdepth_ros.ros.fastdds import PROFILE_VARIABLES, mirror_profiles_variable
from semdepth_ros.ros.node_process import NodeProcess, child_env, node_command
from semdepth_ros.ros.throttle import ProblemThrottle

mirror_profiles_variable()  # before rclpy creates a participant (Fast DDS 2.x reads the FASTRTPS_ name)
rclpy = pytest.importorskip("rclpy")
from node_client import (H, K, NO_CLOUD, OUTPUTS, W, Client, compressed_image, compressed_msg,  # noqa: E402
                         make_image, next_header, raw_image, start, write_yaml)
from node_client import context  # noqa: E402, F401 - a fixture
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from semdepth_ros.ros import messages  # noqa: E402

ALL = frozenset(OUTPUTS)
SILENCE_S = 3.0                      # the nodes' silent_input_timeout
K_VGA = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])   # a 640x480 camera


def _params(**extra) -> dict:
    return {"stats_period": 0.3, "silent_input_timeout": SILENCE_S, "publish_colorized": True, **extra}


@pytest.fixture(scope="module")
def node_r(tmp_path_factory, tiny_checkpoint, context):
    tmp = tmp_path_factory.mktemp("node_r")
    params = write_yaml(tmp / "r.yaml", _params(checkpoint=str(tiny_checkpoint)))
    node = start(tmp, "r", ["--params-file", str(params), "-r", "__ns:=/bad_r", "-r", "image:=/bad_r/image",
                            "-r", "camera_info:=/bad_r/camera_info"])
    client = Client(context, "/bad_r", "/bad_r/image", Image, "/bad_r/camera_info")
    try:
        good_frame(client, node)
        yield node, client
    finally:                                  # also when the first frame fails: never leave a node running
        client.node.destroy_node()
        code = node.stop()
    assert code == 0, node.log_text()


@pytest.fixture(scope="module")
def node_c(tmp_path_factory, tiny_checkpoint, context):
    tmp = tmp_path_factory.mktemp("node_c")
    params = write_yaml(tmp / "c.yaml", _params(checkpoint=str(tiny_checkpoint), use_compressed=True,
                                                input_reliability="reliable",
                                                rescale_mismatched_camera_info=True))
    node = start(tmp, "c", ["--params-file", str(params), "-r", "__ns:=/bad_c",
                            "-r", "image/compressed:=/bad_c/image/compressed", "-r", "camera_info:=/bad_c/camera_info"])
    client = Client(context, "/bad_c", "/bad_c/image/compressed", CompressedImage, "/bad_c/camera_info")
    try:
        good_frame(client, node)
        yield node, client
    finally:
        client.node.destroy_node()
        code = node.stop()
    assert code == 0, node.log_text()


def good_frame(client: Client, node: NodeProcess, expect: frozenset[str] = ALL, **send_args) -> dict[str, object]:
    """A valid frame (raw or compressed, whichever the client sends) with camera_info; returns its outputs."""
    header = next_header()
    if client.image_pub.msg_type is Image:
        outputs = client.exchange(raw_image(header, make_image()), header, expect, **send_args)
    else:
        send_args.setdefault("info_size", (W, H))
        outputs = client.exchange(compressed_image(header, make_image()), header, expect, **send_args)
    assert node.alive()
    return outputs


def logged(node: NodeProcess, kind: str, since: int) -> int:
    """How many log lines of the node since character ``since`` carry the tag of ``kind``."""
    return node.log_text()[since:].count(f"[{kind}]")


def wait_for_kind(node: NodeProcess, kind: str, since: int, timeout: float,
                  meanwhile: Callable[[], None] = lambda: time.sleep(0.2)) -> bool:
    """Wait until the node logs ``kind`` after character ``since``, calling ``meanwhile`` in between."""
    deadline = time.monotonic() + timeout
    while not logged(node, kind, since):
        if time.monotonic() > deadline or not node.alive():
            return False
        meanwhile()
    return True


def check_counted_fault(node: NodeProcess, client: Client, kind: str, send_bad: Callable[[int], None],
                        counter: str = "errors", **good_args) -> dict[str, object]:
    """Send the fault twice (attempt 0 and 1, waiting until each was counted), then a good frame."""
    mark = len(node.log_text())
    for attempt in range(2):
        before = client.counters()[counter]
        send_bad(attempt)
        client.counters(lambda c: c[counter] == before + 1)
    outputs = good_frame(client, node, **good_args)
    assert logged(node, kind, mark) == 1, node.log_text()[mark:]
    return outputs


def test_throttle_is_per_kind_and_logs_each_kind_once_per_period() -> None:
    throttle = ProblemThrottle(period_s=0.3)
    assert throttle.due("step_too_small") == 0 and throttle.due("data_size") == 0    # one does not hide the other
    assert throttle.due("step_too_small") is None and throttle.due("step_too_small") is None
    time.sleep(0.35)
    assert throttle.due("step_too_small") == 2 and throttle.due("data_size") == 0      # held-back count reported


# --- raw images -------------------------------------------------------------------------------------
GOOD_FIELDS = codec.rgb_to_image_fields(make_image(seed=3))
RAW_FAULTS: dict[str, Callable[[int], dict]] = {   # kind -> the bad fields of attempt 0 / 1
    "unsupported_encoding": lambda i: GOOD_FIELDS | {"encoding": ("yuv422", "bayer_rggb16")[i]},
    "data_size": lambda i: GOOD_FIELDS | {"data": GOOD_FIELDS["data"][:-(5 + i)]},      # truncated
    "step_too_small": lambda i: GOOD_FIELDS | {"step": 100 + i},
    "zero_size": lambda i: GOOD_FIELDS | {"height": 0, "width": W + i, "data": b""},
    # Only the header claims 4097x3073 (over 4096x3072): the size is refused before the data is looked at.
    "image_too_large": lambda i: GOOD_FIELDS | {"height": 3073 + i, "width": 4097, "step": 4097 * 3},
}


@pytest.mark.parametrize("kind", list(RAW_FAULTS))
def test_raw_image_fault(node_r, kind: str) -> None:
    node, client = node_r
    fault = RAW_FAULTS[kind]
    check_counted_fault(node, client, kind,
                        lambda i: client.image_pub.publish(messages.image_msg(next_header(), fault(i))))


def test_invalid_camera_info_is_ignored_and_the_last_good_one_kept(node_r) -> None:
    node, client = node_r
    uncalibrated = [np.zeros((3, 3)), np.where(np.eye(3, dtype=bool), np.nan, K)]   # fx = 0, fx = NaN

    def send_bad(i: int) -> None:
        fields = codec.camera_info_fields(uncalibrated[i], W, H)
        client.info_pub.publish(messages.camera_info_msg(next_header(), fields))

    outputs = check_counted_fault(node, client, "invalid_camera_info", send_bad, counter="camera_info_errors",
                                  camera_info=None)
    np.testing.assert_allclose(np.reshape(outputs["depth/camera_info"].k, (3, 3)), K)


def test_camera_info_of_another_aspect_ratio_gives_no_cloud_until_it_matches(node_r) -> None:
    """640x480 intrinsics on a 192x64 image would stretch fx and fy by different factors: warned once,
    depth and mask still published, no cloud and no depth/camera_info; a matching camera_info restores them."""
    node, client = node_r
    mark = len(node.log_text())
    for seed in (1, 2):
        header = next_header()
        outputs = client.exchange(raw_image(header, make_image(seed=seed)), header, NO_CLOUD,
                                  camera_info=K_VGA, info_size=(640, 480))
        client.spin_until(lambda: False, 0.5)                  # a cloud would have arrived by now
        assert set(client.outputs(header)) == NO_CLOUD, sorted(client.outputs(header))
    good_frame(client, node)
    text = node.log_text()[mark:]
    assert logged(node, "camera_info_aspect", mark) == 1, text
    assert "describes 640x480 images" in text and "until they match" in text


def counted_so_far(node: NodeProcess, counter: str = "received") -> int:
    """A running count of the node (received, processed, ...), from its latest statistics line (0 before any)."""
    counts = re.findall(rf" {counter}=(\d+)", node.log_text())
    return int(counts[-1]) if counts else 0


def test_large_image_from_a_publisher_without_the_profile_is_reported(node_r) -> None:
    """A 3840x2160 (25 MB) best-effort camera in a process without the shared-memory profile. Whether DDS
    delivers any such frame depends on the machine and its load (measured: none, or about 1 in 25), so
    the test follows what happened: if nothing arrives, the node says once what is likely wrong; if frames
    trickle through, they are processed and the node never claims that nothing arrived."""
    node, client = node_r
    env = {k: v for k, v in child_env().items() if k not in PROFILE_VARIABLES}
    mark, before, done = len(node.log_text()), counted_so_far(node), counted_so_far(node, "processed")
    camera = subprocess.Popen([sys.executable, "-c", BIG_CAMERA, "/bad_r/image"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    arrived = lambda: counted_so_far(node) > before  # noqa: E731
    try:
        deadline = time.monotonic() + SILENCE_S + 60
        while not (logged(node, "silent_input", mark) or arrived()) and time.monotonic() < deadline:
            assert node.alive(), node.log_text()[mark:]
            time.sleep(0.2)
        assert camera.poll() is None, camera.communicate()[0]
        time.sleep(SILENCE_S + 1)                   # long enough for a (wrong) second warning
    finally:
        camera.kill()
        camera.wait()
    good_frame(client, node)
    text = node.log_text()[mark:]
    if logged(node, "silent_input", mark):
        assert logged(node, "silent_input", mark) == 1, text
        assert "no frame arrived" in text and "shared-memory profile" in text and "PUBLISHING process" in text
    else:
        assert arrived(), f"neither a frame nor a silent_input warning in {SILENCE_S + 60:.0f} s: {text}"
        deadline = time.monotonic() + 10                                # the next statistics line
        while counted_so_far(node, "processed") < done + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert counted_so_far(node, "processed") >= done + 2, text    # big frames and the good one


BIG_CAMERA = textwrap.dedent("""
    import sys, time
    import numpy as np, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node("big_camera")
    pub = node.create_publisher(Image, sys.argv[1], QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    msg = Image(height=2160, width=3840, encoding="rgb8", step=3840 * 3)
    msg.data = np.random.default_rng(0).integers(0, 256, 2160 * 3840 * 3, dtype=np.uint8).tobytes()
    while True:
        pub.publish(msg)
        time.sleep(0.2)
""")


# --- compressed images --------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int) -> bytes:
    """A valid PNG of side x side black grey pixels: ~140 KB for 12000 that decode to side^2 x 3 bytes."""
    compressor, row = zlib.compressobj(9), bytes(side + 1)          # each row: filter byte + pixels
    blocks = [compressor.compress(row * 64) for _ in range(side // 64)]
    idat = b"".join(blocks + [compressor.compress(row * (side % 64)), compressor.flush()])
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims another size (what a hostile sender can write)."""
    data = bytearray(cv2.imencode(".jpg", make_image())[1].tobytes())
    sof = data.index(b"\xff\xc0") + 5                # marker, length (2), precision (1), then height, width
    data[sof:sof + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb(12000)


PNG = cv2.imencode(".png", make_image(seed=4))[1].tobytes()
JPG = cv2.imencode(".jpg", make_image(seed=4))[1].tobytes()
COMPRESSED_FAULTS: dict[str, Callable[[int], tuple[str, bytes]]] = {  # kind -> (format, data) of attempt 0 / 1
    "truncated_compressed": lambda i: (("png", PNG[:len(PNG) // 2]), ("jpeg", JPG[:len(JPG) - 100]))[i],
    "corrupt_compressed": lambda i: (("jpeg", b"\xff\xd8 not a jpeg"),
                                     ("png", bytes(np.random.default_rng(1).integers(0, 256, 999, np.uint8))))[i],
    "unsupported_format": lambda i: (("theora", b"abc"), ("16UC1; compressedDepth png", PNG))[i],
    "empty_compressed": lambda i: ("jpeg", b""),
}


@pytest.mark.parametrize("kind", list(COMPRESSED_FAULTS))
def test_compressed_fault(node_c, kind: str) -> None:
    node, client = node_c
    fault = COMPRESSED_FAULTS[kind]
    check_counted_fault(node, client, kind, lambda i: client.image_pub.publish(
        compressed_msg(next_header(), *fault(i))))


def test_decompression_bomb_is_refused_before_decoding(node_c, bomb: bytes) -> None:
    """A 12000x12000 PNG (~140 KB) and a JPEG claiming 30000x30000: refused from their headers, so the
    node neither stalls nor allocates the 432 MB / 2.7 GB they would decode to."""
    node, client = node_c
    peak_before = peak_rss_mb(node.process.pid)
    attempts = [("png", bomb), ("jpeg", jpeg_claiming(30000, 30000))]
    started = time.monotonic()
    check_counted_fault(node, client, "image_too_large",
                        lambda i: client.image_pub.publish(compressed_msg(next_header(), *attempts[i])))
    assert time.monotonic() - started < 30
    assert peak_rss_mb(node.process.pid) - peak_before < 100, "the bomb was decoded"
    assert "image of 12000x12000 = 144.0 MP exceeds the limit of 12582912 pixels" in node.log_text()


def test_mismatched_camera_info_is_rescaled_when_asked(node_c) -> None:
    node, client = node_c
    mark = len(node.log_text())
    outputs = good_frame(client, node, camera_info=K_VGA, info_size=(640, 480))
    np.testing.assert_allclose(np.reshape(outputs["depth/camera_info"].k, (3, 3)),
                               scale_intrinsics(K_VGA, W / 640, H / 480), rtol=1e-9)
    good_frame(client, node, camera_info=K_VGA, info_size=(640, 480))
    assert logged(node, "camera_info_aspect", mark) == 1
    assert "rescaling anyway" in node.log_text()[mark:]


def test_best_effort_camera_on_a_reliable_input_is_reported(node_c) -> None:
    """input_reliability reliable does not match a best-effort publisher: its frames never arrive."""
    node, client = node_c
    mark, received = len(node.log_text()), client.counters()["received"]
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    camera = client.node.create_publisher(CompressedImage, "/bad_c/image/compressed", qos)
    def publish() -> None:
        camera.publish(compressed_image(next_header(), make_image()))
        client.spin_until(lambda: False, 0.2)

    try:
        assert wait_for_kind(node, "silent_input", mark, SILENCE_S + 30, publish), node.log_text()[mark:]
    finally:
        client.node.destroy_publisher(camera)
    assert client.counters()["received"] == received
    good_frame(client, node)
    text = node.log_text()[mark:]
    assert logged(node, "silent_input", mark) == 1, text
    assert "the publisher is best_effort and input_reliability is reliable" in text


# --- checkpoints ------------------------------------------------------------------------------------------
def test_bad_checkpoints_stop_the_node_with_one_line(tmp_path, tiny_checkpoint) -> None:
    """NaN weights, a directory and random bytes: exit 1, one line naming the problem, never torch's
    advice to load with weights_only=False."""
    payload = torch.load(tiny_checkpoint, weights_only=True)
    name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
    payload["state_dict"][name].view(-1)[0] = float("nan")
    torch.save(payload, tmp_path / "nan.pt")
    (tmp_path / "run").mkdir()
    (tmp_path / "random.pt").write_bytes(os.urandom(4096).replace(b"PK", b"pk").lstrip(b"\x80"))
    cases = {
        "non-finite weights (NaN or Inf): 1 of": tmp_path / "nan.pt",
        "is a directory, not a checkpoint file": tmp_path / "run",
        "is not a checkpoint file (not a PyTorch file at all)": tmp_path / "random.pt",
    }
    runs = {text: subprocess.Popen(node_command(["-p", f"checkpoint:={path}"]), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=child_env())
            for text, path in cases.items()}
    for text, run in runs.items():
        output = run.communicate(timeout=120)[0]
        assert run.returncode == 1 and text in output, output
        assert "weights_only" not in output and "Traceback" not in output, output
        assert len([line for line in output.splitlines() if "cannot start" in line]) == 1, output
