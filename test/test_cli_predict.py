"""`semdepth predict` and `semdepth bench` run as a user runs them (a subprocess)."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from semdepth_ros.ply import read_ply


def _semdepth(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "semdepth_ros.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_predict_writes_every_output(tmp_path, tiny_checkpoint):
    image = np.random.default_rng(0).integers(0, 256, (100, 300, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), image)
    (tmp_path / "k.yaml").write_text("fx: 200\nfy: 200\ncx: 150\ncy: 50\nwidth: 300\nheight: 100\n")
    out = tmp_path / "out"
    res = _semdepth("predict", str(tmp_path / "frame.png"), "--checkpoint", str(tiny_checkpoint),
                    "--out", str(out), "--intrinsics", str(tmp_path / "k.yaml"), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert cv2.imread(str(out / "frame_depth.png")).shape == (100, 300, 3)
    depth_mm = cv2.imread(str(out / "frame_depth_mm.png"), cv2.IMREAD_UNCHANGED)
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == (100, 300)
    depth = np.load(out / "frame_depth.npy")
    assert np.allclose(depth_mm, np.round(depth * 1000), atol=1)
    mask = cv2.imread(str(out / "frame_mask.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 255}
    assert cv2.imread(str(out / "frame_overlay.png")).shape == (100, 300, 3)
    cloud = read_ply(out / "frame.ply")
    assert len(cloud) == 100 * 300
    # first pixel (0, 0): X = (0 - cx) Z / fx
    assert np.isclose(cloud["x"][0], -150 * depth[0, 0] / 200, rtol=1e-4)
    assert json.loads((out / "summary.json").read_text())[0]["points"] == 100 * 300


def test_predict_missing_checkpoint_is_clear(tmp_path):
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((8, 8, 3), np.uint8))
    res = _semdepth("predict", str(tmp_path / "f.png"), "--checkpoint", str(tmp_path / "none.pt"),
                    "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "checkpoint not found" in res.stderr


def test_bench_times_naive_and_fast_side_by_side(tmp_path):
    res = _semdepth("bench", "--arch", "r18", "--height", "64", "--width", "192", "--image-height", "120",
                    "--image-width", "400", "--batches", "1", "2", "--iters", "2", "--warmup", "1", "--device", "cpu",
                    "--json", str(tmp_path / "b.json"), "--png", str(tmp_path / "b.png"))
    assert res.returncode == 0, res.stderr
    assert "speed-up" in res.stdout and "max rel d" in res.stdout
    report = json.loads((tmp_path / "b.json").read_text())
    assert [r["paths"]["naive"]["batch"] for r in report["results"]] == [1, 2]
    for result in report["results"]:
        naive, fast = result["paths"]["naive"], result["paths"]["fast"]
        assert naive["engine"] == "torch fp32, host stages" and fast["engine"].startswith(("onnxruntime", "openvino"))
        assert fast["speedup"] == pytest.approx(naive["stages_ms"]["total"]["p50"] / fast["stages_ms"]["total"]["p50"])
        assert fast["max_rel_depth_diff"] < 1e-4 and 19 < result["params_M"] < 20
        assert result["paths"]["naive"]["per_image_ms"]["p50"] * result["paths"]["naive"]["batch"] == \
            pytest.approx(naive["stages_ms"]["total"]["p50"])
    assert cv2.imread(str(tmp_path / "b.png")) is not None


def test_predict_checks_every_input_before_loading_the_model(tmp_path):
    """The checkpoint does not exist either: the inputs are reported, so they were checked first."""
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((40, 60, 3), np.uint8))
    res = _semdepth("predict", str(tmp_path / "missing.png"), str(big), str(tmp_path), "--checkpoint",
                    str(tmp_path / "none.pt"), "--out", str(tmp_path / "o"), "--max-input-pixels", "2000")
    assert res.returncode == 1 and "checkpoint" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "3 of 3 input files unusable: image file missing:" in res.stderr
    assert "big.png: image of 60x40 = 0.0 MP exceeds the limit of 2000 pixels (0.0 MP, --max-input-pixels)" \
        in res.stderr and "is a directory, not an image file" in res.stderr


def test_version_names_package_torch_and_cuda():
    res = _semdepth("--version", timeout=120)
    assert res.returncode == 0, res.stderr
    import torch

    from semdepth_ros import __version__
    assert res.stdout.startswith(f"semdepth_ros {__version__} (torch {torch.__version__}, ")
    assert ("CUDA" in res.stdout) and (("no usable CUDA" in res.stdout) != torch.cuda.is_available())


def test_every_bench_option_has_help():
    import argparse

    from semdepth_ros.cli import bench
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    undocumented = [a.dest for a in parser._actions if not a.help]
    assert not undocumented, undocumented
