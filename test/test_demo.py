"""`semdepth demo` run as a user runs it: a subprocess that spawns the node and talks to it over DDS."""
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from semdepth_ros.bag.io import BagReader, stamp_to_ns
from semdepth_ros.checkpoint import default_checkpoint_path
from semdepth_ros.demo.ros_env import apply_ros_defaults
from semdepth_ros.ply import read_ply

OUTPUTS = ("/semdepth/depth", "/semdepth/semantic/mask", "/semdepth/semantic/overlay", "/semdepth/points")


def _demo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semdepth_ros.cli.main", "demo", *args],
                          capture_output=True, text=True, timeout=timeout)


def _node_processes(marker: str) -> list[str]:
    """Command lines of depth nodes still running with ``marker`` (e.g. the checkpoint path) in them."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "semdepth_ros.ros.depth_node" in text and marker in text:
            found.append(text)
    return found


def _stamps(bag: Path) -> dict[str, list[int]]:
    with BagReader(bag) as reader:
        stamps: dict[str, list[int]] = {topic: [] for topic in reader.topics}
        for item in reader.messages(reader.topics):
            stamps[item.topic].append(stamp_to_ns(item.msg.header.stamp))
    return stamps


def test_demo_writes_every_output(tmp_path, tiny_checkpoint):
    out = tmp_path / "demo"
    res = _demo("--frames", "6", "--checkpoint", str(tiny_checkpoint), "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fps" in res.stdout and "latency p50" in res.stdout and "abs_rel" in res.stdout
    assert ": starting the depth node (loading the model)" in res.stderr   # the progress bar says why it waits

    montage = cv2.imread(str(out / "montage.png"))
    assert montage is not None and montage.shape[1] >= 3 * 192
    cloud = read_ply(out / "cloud.ply")
    assert len(cloud) > 0 and math.isfinite(float(cloud["z"].mean()))

    doc = json.loads((out / "metrics.json").read_text())
    for scaling in ("median_scaled", "checkpoint_scale"):
        assert math.isfinite(doc["accuracy"][scaling]["metrics"]["abs_rel"])
    answered = doc["live"]["answered"]
    assert 1 <= answered <= doc["live"]["frames_sent"] == 6
    assert "Abs Rel" in (out / "metrics.md").read_text()

    stamps = _stamps(out / "bag")
    inputs = set(stamps["/camera/image_raw"])
    assert len(inputs) == 6 and set(stamps["/camera/camera_info"]) == inputs
    for topic in OUTPUTS:
        assert len(stamps[topic]) == answered, topic
        assert set(stamps[topic]) == set(stamps["/semdepth/depth"]) <= inputs, topic
    assert not _node_processes(str(tiny_checkpoint))

    # eval-bag on the demo's bag grades against the world's depth, never the node's own depth or cloud
    report = tmp_path / "eval_demo_bag"
    res = subprocess.run([sys.executable, "-m", "semdepth_ros.cli.main", "eval-bag", str(out / "bag"), "--checkpoint",
                          str(tiny_checkpoint), "--device", "cpu", "--out", str(report)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    evaluated = json.loads((report / "metrics.json").read_text())
    assert evaluated["topics"]["gt"] == "/ground_truth/depth" and evaluated["topics"]["gt_kind"] == "depth"
    assert set(OUTPUTS) <= set(evaluated["topics"]["own_outputs"])
    assert evaluated["evaluated"] == 6 and evaluated["metrics"]["abs_rel"] > 0.01 and evaluated["metrics"]["a1"] < 1.0


def test_demo_reruns_into_the_same_folder(tmp_path, tiny_checkpoint):
    out = tmp_path / "demo"
    for _ in range(2):
        res = _demo("--frames", "2", "--rate", "0", "--checkpoint", str(tiny_checkpoint), "--out", str(out))
        assert res.returncode == 0, res.stdout + res.stderr
    assert len(_stamps(out / "bag")["/camera/image_raw"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA to make the node fail")
def test_demo_node_failure_shows_its_log(tmp_path, tiny_checkpoint):
    res = _demo("--frames", "2", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "d"),
                "--device", "cuda", timeout=300)
    assert res.returncode == 1
    assert "depth node exited" in res.stderr and "no CUDA GPU" in res.stderr  # the node's own log line
    assert not _node_processes(str(tiny_checkpoint))


def test_ros_defaults_keep_the_users_choices(tmp_path):
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "FASTRTPS_DEFAULT_PROFILES_FILE": "/my/profile.xml"}
    assert apply_ros_defaults(tmp_path, env) == []
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET" and env["ROS_LOG_DIR"] == str(tmp_path)
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == "/my/profile.xml"
    fresh: dict[str, str] = {}
    apply_ros_defaults(tmp_path, fresh)
    assert fresh["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert Path(fresh["FASTDDS_DEFAULT_PROFILES_FILE"]).name == "fastdds_shm.xml"


@pytest.mark.skipif(default_checkpoint_path() is None, reason="no bundled default model yet")
def test_demo_default_model_accuracy(tmp_path):
    """`semdepth demo` with the default model; the accuracy bar goes here.

    --rate 0 evaluates every frame whatever the machine's load, so the number is reproducible.
    """
    out = tmp_path / "demo"
    res = _demo("--frames", "10", "--rate", "0", "--out", str(out), timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    accuracy = json.loads((out / "metrics.json").read_text())["accuracy"]
    abs_rel = accuracy["median_scaled"]["metrics"]["abs_rel"]
    metric_abs_rel = accuracy["checkpoint_scale"]["metrics"]["abs_rel"]
    # The bundled model is pre-trained on the synthetic world and fine-tuned on real KITTI video (README);
    # on this synthetic demo street (seed 2026, 10 frames, --rate 0: deterministic) it measured 0.364
    # median-scaled and 0.420 at its KITTI-measured scale (x1.399); the untrained network scores 0.520
    # median-scaled. The bars fail a model that learned nothing or lost its scale.
    assert abs_rel < 0.42 and metric_abs_rel < 0.48, (abs_rel, metric_abs_rel)
