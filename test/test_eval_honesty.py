"""Evaluation that cannot flatter: ground truth never from the model's own outputs, one LiDAR projection
for `semdepth evaluate` and `semdepth eval-bag` (same numbers on the same drive), the constant-depth
baseline and the scale check in every report, and multi-bag pooling equal to one concatenated bag.

Real rosbag2 files and the CLI as a user runs it; the KITTI drive is built from the real excerpt in
test/data/kitti_excerpt (six frames, one real Velodyne scan given to every frame).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from semdepth_ros.bag import io as bagio
from semdepth_ros.bag.markers import BagMarks
from semdepth_ros.checkpoint import CheckpointMeta, default_checkpoint_path, load_checkpoint, save_checkpoint
from semdepth_ros.cli.main import main
from semdepth_ros.lidar import project_to_depth
from semdepth_ros.metrics import METRIC_NAMES, ImageSetMetrics, constant_depth_errors, resize_prediction, \
    scale_warning
from semdepth_ros.model import ModelConfig
from semdepth_synth.sequence import SynthConfig, generate_sequence

from bag_helpers import write_synth_bag

EXCERPT = Path(__file__).parent / "data" / "kitti_excerpt"
DRIVE = "2011_09_26/2011_09_26_drive_0009_sync"
LIDAR = "/velodyne_points"


def _semdepth(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _json(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def kitti(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(KITTI raw root, split file naming all six frames, kitti2bag bag of the drive)."""
    root = tmp_path_factory.mktemp("kitti")
    shutil.copytree(EXCERPT / "2011_09_26", root / "2011_09_26", ignore=shutil.ignore_patterns("oxts"))
    scans = root / DRIVE / "velodyne_points" / "data"
    for frame in (0, 1, 3, 4, 5):
        shutil.copy(scans / "0000000002.bin", scans / f"{frame:010d}.bin")
    split = root / "split.txt"
    split.write_text("".join(f"{DRIVE} {frame} l\n" for frame in range(6)))
    bag = root / "bag"
    assert main(["kitti2bag", str(root / DRIVE), "--out", str(bag)]) == 0
    return root, split, bag


# --- one projection, one protocol ------------------------------------------------------------------

def test_projection_conventions_hand_computed() -> None:
    k = np.array([[100.0, 0, 50], [0, 100, 20], [0, 0, 1]])
    # u = 100 x / z + 50, v = 100 y / z + 20
    points = np.array([[1.0, 0.5, 2.0],      # (100, 45)
                       [2.0, 1.0, 4.0],      # (100, 45) too, farther: the nearer one wins
                       [1.0, 0.6, 4.0],      # (75, 35)
                       [0.337, 0.0, 1.0],    # (83.7, 20) -> (84, 20)
                       [0.0, 0.0, 0.05]])    # closer than 0.1 m: dropped
    ros = project_to_depth(points, np.eye(4), k, 60, 120, "camera_info")
    kitti = project_to_depth(points, np.eye(4), k, 60, 120, "kitti")
    assert (ros[45, 100], ros[35, 75], ros[20, 84]) == (2.0, 4.0, 1.0) and np.count_nonzero(ros) == 3
    assert (kitti[44, 99], kitti[34, 74], kitti[19, 83]) == (2.0, 4.0, 1.0) and np.count_nonzero(kitti) == 3


def test_constant_baseline_and_resize_by_hand() -> None:
    gt = np.array([2.0, 4.0, 10.0])
    errors = constant_depth_errors(gt)                             # prediction 4 everywhere
    assert errors["abs_rel"] == pytest.approx((1.0 + 0.0 + 0.6) / 3)
    assert errors["a1"] == pytest.approx(1 / 3)
    depth = np.array([[2.0, 4.0]], np.float32)
    assert resize_prediction(depth, (1, 4))[0, 1] == pytest.approx(1 / (0.75 * 0.5 + 0.25 * 0.25))
    assert resize_prediction(np.array([[0.0, 4.0]], np.float32), (1, 4))[0, 0] == 0.0  # invalid stays invalid


def test_image_sets_merge_like_one_set() -> None:
    rng = np.random.default_rng(0)
    frames = [(rng.uniform(1, 80, (8, 10)) * (rng.random((8, 10)) > 0.3), rng.uniform(1, 50, (4, 5)))
              for _ in range(5)]
    whole, parts = ImageSetMetrics("garg", None), [ImageSetMetrics("garg", None) for _ in range(2)]
    for i, (gt, pred) in enumerate(frames):
        whole.add(gt, pred.astype(np.float32))
        parts[i % 2].add(gt, pred.astype(np.float32))
    parts[0].merge(parts[1])
    for name in METRIC_NAMES:
        assert parts[0].metrics[name] == pytest.approx(whole.metrics[name], rel=1e-12)
        assert parts[0].baseline[name] == pytest.approx(whole.baseline[name], rel=1e-12)
    assert sorted(parts[0].factors) == sorted(whole.factors)


def test_scale_warning_past_a_quarter() -> None:
    assert scale_warning(50.0, "stored", 26.0) is not None and "92%" in scale_warning(50.0, "stored", 26.0)
    assert scale_warning(30.0, "stored", 26.0) is None and scale_warning(1.0, "stored", float("nan")) is None


def test_checkpoints_record_their_scale_domain(tmp_path: Path) -> None:
    """Old files load with an 'unknown' domain; the bundled model says its scale was measured on KITTI's LiDAR."""
    meta = CheckpointMeta(model_config=ModelConfig(num_layers=18, width=0.25), scale_factor=3.0)
    data = meta.to_dict()
    del data["scale_domain"]                                      # a file written before domains were kept
    assert CheckpointMeta.from_dict(data).scale_domain.startswith("unknown")
    model, bundled = load_checkpoint(default_checkpoint_path())
    assert "kitti" in bundled.scale_domain and "velodyne" in bundled.scale_domain
    assert "kitti" in bundled.describe_scale()
    save_checkpoint(tmp_path / "m.pt", model, bundled)
    assert load_checkpoint(tmp_path / "m.pt")[1].scale_domain == bundled.scale_domain


# --- evaluate and eval-bag agree -------------------------------------------------------------------

@pytest.mark.parametrize("scaling", ["median", "fixed"])
def test_evaluate_and_eval_bag_agree_on_a_kitti_drive(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                     kitti: tuple[Path, Path, Path], scaling: str) -> None:
    """Same drive, same default model (no --checkpoint for either), same numbers to 1e-4."""
    root, split, bag = kitti
    code, out, err = _semdepth(capsys, "evaluate", "--data", root, "--kind", "kitti", "--split", split,
                               "--no-gt-cache", "--device", "cpu", "--out", tmp_path / "evaluate", "--scaling", scaling)
    assert code == 0, out + err
    evaluate = _json(tmp_path / "evaluate")
    assert evaluate["config"]["checkpoint"] == str(default_checkpoint_path())
    code, out, err = _semdepth(capsys, "eval-bag", bag, "--device", "cpu", "--split", split, "--batch-size", "4",
                               "--scale", "median" if scaling == "median" else "checkpoint", "--out", tmp_path / "bag")
    assert code == 0, err
    evalbag = _json(tmp_path / "bag")
    assert evaluate["num_images"] == evalbag["evaluated"] == 6
    for name in METRIC_NAMES:
        assert evalbag["metrics"][name] == pytest.approx(evaluate["metrics"][name], abs=1e-4), name
        assert evalbag["baseline"][name] == pytest.approx(evaluate["baseline"][name], abs=1e-4), name
    assert evalbag["scaling"]["gt_ratio_median"] == pytest.approx(evaluate["scaling"]["gt_ratio_median"], rel=1e-4)
    assert evalbag["scaling"]["ratio_std"] == pytest.approx(evaluate["scaling"]["ratio_std"], abs=1e-4)
    # eval-bag knew the bag is KITTI: Garg crop, KITTI projection at the calibration's 1242x375, the real LiDAR
    assert evalbag["crop"] == evaluate["scaling"]["crop"] == "garg"
    assert evalbag["topics"]["gt"] == LIDAR and "1242x375" in evalbag["ground_truth"]
    assert "round(x) - 1" in evalbag["ground_truth"]
    assert evalbag["scale_check"]["checkpoint"]["domain"] == evaluate["checkpoint_scale"]["domain"]
    for report in (tmp_path / "evaluate" / "report.md", tmp_path / "bag" / "report.md"):
        text = report.read_text()
        for needed in ("ground truth", "crop: garg", "scaling", "frames", "constant depth (median-scaled)",
                       "metric scale"):
            assert needed in text, (report, needed)


def test_frame_range_and_stamp_list(tmp_path: Path, capsys: pytest.CaptureFixture,
                                    kitti: tuple[Path, Path, Path]) -> None:
    _, split, bag = kitti
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--device", "cpu", "--frames", "2:4", "--out", tmp_path / "r")
    assert code == 0, err
    rows = _json(tmp_path / "r")
    assert rows["evaluated"] == 2 and "2:4" in rows["frame_set"]
    stamps = [line.split(",")[1] for line in (tmp_path / "r" / "per_frame.csv").read_text().splitlines()[1:]]
    (tmp_path / "stamps.txt").write_text("\n".join(stamps) + "\n")
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--device", "cpu", "--split", tmp_path / "stamps.txt",
                             "--out", tmp_path / "s")
    assert code == 0, err
    assert _json(tmp_path / "s")["metrics"] == rows["metrics"]
    other = tmp_path / "other_split.txt"
    other.write_text("2011_09_26/2011_09_26_drive_0002_sync 5 l\n")
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--device", "cpu", "--split", other, "--out", tmp_path / "o")
    assert code == 1 and "drive_0009" in err


# --- never graded against itself --------------------------------------------------------------------

def _copy(source: Path, target: Path, rename: dict[str, str], drop: set[str] = frozenset()) -> Path:
    """A re-recording of ``source`` by another tool: topics renamed or dropped, no semdepth metadata."""
    with bagio.BagReader(source) as reader, bagio.BagWriter(target) as writer:
        for item in reader.messages(reader.topics):
            if item.topic not in drop:
                writer.write_raw(rename.get(item.topic, item.topic), item.msg.__msgtype__, item.raw, item.time_ns)
    return target


def test_recorded_bag_is_graded_against_the_lidar(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  kitti: tuple[Path, Path, Path]) -> None:
    _, _, bag = kitti
    record = tmp_path / "recorded"
    code, _, err = _semdepth(capsys, "eval-bag", bag, "--device", "cpu", "--out", tmp_path / "first",
                             "--record", record)
    assert code == 0, err
    with bagio.BagReader(record) as reader:
        marks = BagMarks.read(reader.custom)
    assert marks.ground_truth == LIDAR and "/semdepth/points" in marks.output_topics and marks.kitti_drive == DRIVE
    first = _json(tmp_path / "first")

    # 1. the recording itself: the LiDAR (the writer says so), same numbers as the original bag
    code, out, err = _semdepth(capsys, "eval-bag", record, "--device", "cpu", "--out", tmp_path / "again")
    assert code == 0, err
    again = _json(tmp_path / "again")
    assert again["topics"]["gt"] == LIDAR and "/semdepth/points" in again["topics"]["own_outputs"]
    assert again["metrics"] == pytest.approx(first["metrics"]) and again["metrics"]["abs_rel"] > 0.05
    assert f"ground truth: {LIDAR}" in out and "/semdepth/points" in (tmp_path / "again" / "report.md").read_text()

    # 2. re-recorded without metadata, outputs remapped into another namespace: recognised by the names
    renamed = {t: t.replace("/semdepth/", "/robot/estimator/") for t in first_outputs(record)}
    moved = _copy(record, tmp_path / "moved", renamed)
    code, _, err = _semdepth(capsys, "eval-bag", moved, "--device", "cpu", "--out", tmp_path / "moved_eval")
    assert code == 0, err
    assert _json(tmp_path / "moved_eval")["topics"]["gt"] == LIDAR

    # 3. only cloud and depth kept, under arbitrary names: the cloud by its fields; the depth image is
    #    indistinguishable from a depth camera, so with the LiDAR there are two candidates: refuse
    odd = _copy(record, tmp_path / "odd", {"/semdepth/points": "/cloud", "/semdepth/depth": "/estimate"},
                drop={"/semdepth/semantic/mask", "/semdepth/semantic/overlay", "/semdepth/depth/camera_info"})
    code, _, err = _semdepth(capsys, "eval-bag", odd, "--device", "cpu", "--out", tmp_path / "odd_eval")
    assert code == 1 and "several ground-truth candidates" in err
    assert LIDAR in err and "/estimate" in err and "--lidar-topic" in err and "/cloud (" not in err
    assert _json(tmp_path / "odd_eval")["evaluated"] == 0

    # 4. asking for the model's own cloud is refused
    code, _, err = _semdepth(capsys, "eval-bag", record, "--device", "cpu", "--lidar-topic", "/semdepth/points",
                             "--out", tmp_path / "own")
    assert code == 1 and "graded against its own output" in err

    # 5. only the model's outputs left: no ground truth, no score
    alone = _copy(record, tmp_path / "alone", {}, drop={LIDAR})
    code, _, err = _semdepth(capsys, "eval-bag", alone, "--device", "cpu", "--out", tmp_path / "alone_eval")
    assert code == 1 and "no ground truth" in err and "/semdepth/points" in err
    assert _json(tmp_path / "alone_eval")["evaluated"] == 0


def first_outputs(bag: Path) -> list[str]:
    with bagio.BagReader(bag) as reader:
        return [t for t in reader.topics if t.startswith("/semdepth/")]


# --- several bags, one report ------------------------------------------------------------------------

def test_pooled_metrics_equal_one_concatenated_bag(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   tiny_checkpoint: Path) -> None:
    frames = list(generate_sequence(SynthConfig(height=64, width=192, num_frames=9, seed=5)))
    folder = tmp_path / "bags"
    for i in range(3):
        write_synth_bag(folder / f"part{i}", frames[3 * i:3 * i + 3])
    whole = write_synth_bag(tmp_path / "whole", frames)
    common = ("--checkpoint", tiny_checkpoint, "--device", "cpu", "--batch-size", "3")  # same batches both ways
    code, out, err = _semdepth(capsys, "eval-bag", folder, *common, "--out", tmp_path / "pooled")
    assert code == 0, err
    assert out.count("part") == 3 and "pooled" in out
    code, _, err = _semdepth(capsys, "eval-bag", whole, *common, "--out", tmp_path / "one")
    assert code == 0, err
    pooled, one = _json(tmp_path / "pooled"), _json(tmp_path / "one")
    assert pooled["evaluated"] == one["evaluated"] == 9 and len(pooled["bags"]) == 3
    for key in ("metrics", "baseline"):
        for name in METRIC_NAMES:
            assert pooled[key][name] == pytest.approx(one[key][name], rel=1e-9, abs=1e-12), (key, name)
    for name, table in one["by_range"].items():
        assert pooled["by_range"][name]["count"] == table["count"]
        assert pooled["by_range"][name]["abs_rel"] == pytest.approx(table["abs_rel"], rel=1e-9)
    per_bag = [bag["metrics"]["abs_rel"] for bag in pooled["bags"]]
    assert pooled["metrics"]["abs_rel"] == pytest.approx(np.mean(per_bag))   # 3 frames each
    rows = (tmp_path / "pooled" / "per_frame.csv").read_text().splitlines()
    assert len(rows) == 10 and "bag" in rows[0].split(",")
    report = (tmp_path / "pooled" / "report.md").read_text()
    assert "pooled" in report and all(f"part{i}" in report for i in range(3))
    # the same bags given one by one make the same report
    code, _, err = _semdepth(capsys, "eval-bag", *(folder / f"part{i}" for i in range(3)), *common,
                             "--out", tmp_path / "listed")
    assert code == 0, err
    assert _json(tmp_path / "listed")["metrics"] == pooled["metrics"]
    code, _, err = _semdepth(capsys, "eval-bag", folder, *common, "--record", tmp_path / "rec")
    assert code == 2 and "one bag" in err
