"""`semdepth export`: node checkpoint with a metric scale, run-folder selection, ONNX vs PyTorch."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from semdepth_ros.cli.main import main
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.predictor import Prediction, Predictor
from semdepth_training.datasets import RawSample
from semdepth_training.evaluation.evaluate import resize_prediction
from semdepth_training.export import (ONNX_TOLERANCE, ExportError, export_onnx, scale_from_camera_height,
                                      select_checkpoint)


def _save(path: Path, config: ModelConfig, val: dict | None = None) -> Path:
    torch.manual_seed(0)
    meta = CheckpointMeta(model_config=config, input_height=64, input_width=192, training={"val": val})
    return save_checkpoint(path, SemDepthNet(config), meta)


def test_export_checkpoint_with_given_scale(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "node.pt"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--scale-factor", "31.5"]) == 0
    model, meta = load_checkpoint(out)
    source, _ = load_checkpoint(tiny_checkpoint)
    assert meta.scale_factor == 31.5 and meta.scale_source == "given"
    assert meta.provenance["exported_from"] == str(tiny_checkpoint)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values()))


def test_run_folder_selects_last_or_best_validation(tmp_path: Path) -> None:
    config = ModelConfig(num_layers=18, seem=False, attention=False)
    models = tmp_path / "run" / "models"
    _save(models / "epoch_001.pt", config, {"abs_rel": 0.12})
    best = _save(models / "epoch_002.pt", config, {"abs_rel": 0.10})
    _save(models / "epoch_003.pt", config, {"abs_rel": 0.11})
    last = _save(models / "last.pt", config, {"abs_rel": 0.11})
    assert select_checkpoint(tmp_path / "run") == last
    assert select_checkpoint(tmp_path / "run", "best-val") == best
    with pytest.raises(ExportError, match="run folder"):
        select_checkpoint(tmp_path)


def test_scale_from_validation_ground_truth(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """GT made as 7x the network's own (resized) prediction must give a factor of exactly 7."""
    root = tmp_path / "val"
    for sub in ("images", "depth"):
        (root / sub).mkdir(parents=True)
    (root / "intrinsics.yaml").write_text("fx: 100\nfy: 100\ncx: 144\ncy: 48\n")
    predictor = Predictor.load(tiny_checkpoint, device="cpu")
    rng = np.random.default_rng(0)
    for i in range(2):
        image = rng.integers(0, 255, (96, 288, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"{i:04d}.png"), image[..., ::-1])
        depth = predictor.predict(image, scale=1.0, with_points=False).depth
        np.save(root / "depth" / f"{i:04d}.npy", 7.0 * resize_prediction(depth, (96, 288)))
    out = tmp_path / "node.pt"
    args = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--scale-from-val",
            "--val-data", str(root), "--val-kind", "folder", "--device", "cpu"]
    assert main(args) == 0
    _, meta = load_checkpoint(out)
    assert meta.scale_factor == pytest.approx(7.0, rel=1e-4)
    assert meta.scale_source == "median_gt:folder" and meta.provenance["scale"]["images"] == 2


class _PlanePredictor:
    """Stands in for Predictor: unscaled depth of a flat ground 2 units below the camera."""

    def predict(self, image: np.ndarray, intrinsics: np.ndarray, scale: float, with_points: bool) -> Prediction:
        h, w = image.shape[:2]
        rows = np.arange(h, dtype=np.float32)[:, None] - intrinsics[1, 2]
        depth = np.where(rows > 1, 2.0 * intrinsics[1, 1] / np.maximum(rows, 1), 50.0)
        depth = np.broadcast_to(depth, (h, w)).astype(np.float32)
        return Prediction(depth, np.zeros((h, w), np.float32), np.zeros((h, w), np.uint8), None, intrinsics, {})


class _Frames:
    def __len__(self) -> int:
        return 3

    def load(self, index: int) -> RawSample:
        k = np.array([[120.0, 0.0, 96.0], [0.0, 120.0, 32.0], [0.0, 0.0, 1.0]])
        return RawSample(images={0: np.zeros((64, 192, 3), np.uint8)}, K=k)


def test_scale_from_camera_height_uses_the_ground_plane() -> None:
    factor, details = scale_from_camera_height(_PlanePredictor(), _Frames(), camera_height=1.65)
    assert factor == pytest.approx(1.65 / 2.0, rel=1e-3)
    assert details["frames_with_plane"] == 3


def test_onnx_matches_pytorch(tmp_path: Path) -> None:
    import onnxruntime

    config = ModelConfig(num_layers=18, seem=False)
    model, meta = load_checkpoint(_save(tmp_path / "m.pt", config))
    check = export_onnx(model, meta, tmp_path / "m.onnx")
    assert max(check["max_abs_diff"].values()) <= ONNX_TOLERANCE
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [i.shape for i in session.get_inputs()] == [[1, 3, 64, 192]]
    image = np.random.default_rng(3).random((1, 3, 64, 192), dtype=np.float32)
    disp, fg = session.run(["disp", "fg"], {"image": image})
    with torch.no_grad():
        outputs = model(torch.from_numpy(image))
    np.testing.assert_allclose(disp, outputs[("disp", 0)].numpy(), atol=ONNX_TOLERANCE, rtol=0)
    np.testing.assert_allclose(fg, outputs[("fg", 0)].numpy(), atol=ONNX_TOLERANCE, rtol=0)


def test_seem_sampling_is_deterministic_in_eval_mode() -> None:
    """ONNX verification (and any comparison of two runs) relies on this."""
    torch.manual_seed(0)
    model = SemDepthNet(ModelConfig(num_layers=18)).eval()
    image = torch.rand(1, 3, 64, 192)
    with torch.no_grad():
        first, second = model(image), model(image)
    assert torch.equal(first["seem_points"], second["seem_points"])
    assert torch.equal(first[("disp", 0)], second[("disp", 0)])


def test_onnx_with_seem(tmp_path: Path, tiny_checkpoint: Path) -> None:
    model, meta = load_checkpoint(tiny_checkpoint)
    assert meta.model_config.seem
    check = export_onnx(model, meta, tmp_path / "seem.onnx")
    assert max(check["max_abs_diff"].values()) <= ONNX_TOLERANCE


def test_cli_writes_checkpoint_and_verified_onnx(tmp_path: Path, tiny_checkpoint: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out, onnx = tmp_path / "node.pt", tmp_path / "node.onnx"
    code = main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--onnx", str(onnx)])
    assert code == 0, capsys.readouterr()
    assert out.is_file() and onnx.is_file()
