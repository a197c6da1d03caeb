"""The paper variants as switches on the one network, trainer, checkpoint, evaluator and export
(docs/variants.md): each trains and lowers its loss, saves its switches into the checkpoint, loads in
the Predictor, exports to ONNX where the operators allow, and fails clearly where it cannot run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from semdepth_ros.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from semdepth_ros.cli.main import main as semdepth_main
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.predictor import Predictor
from semdepth_training.config import load_config
from semdepth_training.evaluation.report import class_figure
from semdepth_training.export import ExportError, export_onnx
from semdepth_training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "semdepth_ros" / "data" / "default_model.pt"   # a checkpoint with a semantic branch
TINY = {"data.dataset": "synthetic", "data.height": 64, "data.width": 192, "data.num_workers": 0,
        "data.eval_crop": None, "model.num_layers": 18, "model.width": 0.25, "run.device": "cpu",
        "run.log_every": 1, "run.image_every": 1000, "pose.source": "dataset", "optim.batch_size": 2,
        "optim.learning_rate": 5e-4, "run.validate": False,
        "data.options": {"num_sequences": 1, "config": {"num_frames": 5}}}
BRANCH = {"model.guide": "branch", "model.guide_path": str(GUIDE)}
VARIANTS = {
    "pac": {**BRANCH, "model.pac": True},
    "lateral": {"model.lateral_sharing": True},
    "depth_aware": {"loss.depth_aware_weight": 0.05, "loss.joint_gradient_weight": 0.5},
    "semantic_input": {**BRANCH, "model.semantic_input": "onehot", "model.semantic_input_edges": True},
    "semantic_losses": {"loss.semantic_warp_weight": 0.5, "loss.masked_reconstruction": True,
                        "loss.semantic_smoothness": True},
}


pytestmark = pytest.mark.usefixtures("one_thread")  # every test here trains or runs networks


@pytest.fixture(scope="module")
def torchscript_segmenter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 19-class TorchScript segmentation model (the `semdepth pseudo-labels --model` contract)."""
    folder = tmp_path_factory.mktemp("seg")
    path, script = folder / "seg.pt", folder / "make_seg.py"   # TorchScript reads the class's source file
    script.write_text("import torch\nfrom torch import nn\n\n\nclass Seg(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 19, 3, padding=1)\n\n"
                      "    def forward(self, x):\n        return self.conv(x)\n\n\n"
                      f"torch.manual_seed(0)\ntorch.jit.script(Seg()).save({str(path)!r})\n")
    subprocess.run([sys.executable, str(script)], check=True)
    return path


def tiny_trainer(tmp_path: Path, **values: object) -> Trainer:
    return Trainer(load_config(values={**TINY, **values}), tmp_path)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_switch_trains_and_lowers_its_loss(tmp_path: Path, name: str) -> None:
    """Eight steps on one batch lower the total loss, the variant's own terms included."""
    torch.manual_seed(0)
    trainer = tiny_trainer(tmp_path, **VARIANTS[name])
    batch = default_collate([trainer.train_set[i] for i in range(2)])
    assert bool(batch["classes_valid"].all()) and bool(batch["depth_valid"].all())  # the synthetic world's labels
    first = trainer.train_step(batch)[0].terms
    for _ in range(7):
        last = trainer.train_step(batch)[0].terms
    assert last["total"] < first["total"]
    for term in ("semantic_warp", "depth_aware", "joint_gradient"):
        if term in first:
            assert first[term] > 0
    if name == "lateral":
        assert trainer.model.depth_decoder.lateral[0].weights.abs().sum() > 0      # the sharing learned
    if name == "pac":
        assert trainer.model.depth_decoder.upconvs[0].conv.log_sigma.grad is not None
        guide = dict(trainer.model.guide.named_parameters())
        reference, _ = load_checkpoint(GUIDE)
        torch.testing.assert_close(guide["net.encoder.conv1.weight"], reference.encoder.conv1.weight)  # frozen


def test_variant_checkpoint_keeps_switches_and_runs_in_the_predictor(tmp_path: Path) -> None:
    """All switches on: the checkpoint records them (and the loss settings), carries the branch guide's
    weights without needing its file, and predicts; SIGNet's class maps come from the guide."""
    values = {**VARIANTS["pac"], **VARIANTS["lateral"], **VARIANTS["semantic_input"], **VARIANTS["depth_aware"],
              "run.max_steps": 1}
    trainer = tiny_trainer(tmp_path / "run", **values)
    trainer.train()
    path = tmp_path / "run" / "models" / "last.pt"
    meta = read_meta(path)
    config = meta.model_config
    assert (config.pac, config.lateral_sharing, config.semantic_input, config.guide) == (True, True, "onehot", "branch")
    assert config.guide_path is None and (config.guide_layers, config.guide_width) == (18, 0.5)
    assert meta.training["config"]["loss"]["depth_aware_weight"] == 0.05
    predictor = Predictor.load(path, device="cpu")
    image = (np.random.default_rng(0).random((70, 200, 3)) * 255).astype(np.uint8)
    pred = predictor.predict(image, intrinsics=np.array([[100.0, 0, 100], [0, 100, 35], [0, 0, 1]]))
    assert pred.depth.shape == (64, 192) and np.isfinite(pred.depth).all() and pred.points is not None
    guide_state = {k: v for k, v in predictor.model.state_dict().items() if k.startswith("guide.net.")}
    reference, _ = load_checkpoint(GUIDE)
    torch.testing.assert_close(guide_state["guide.net.encoder.conv1.weight"], reference.encoder.conv1.weight)


def test_semantic_input_without_a_segmenter_fails_at_start_up(tmp_path: Path) -> None:
    config = ModelConfig(num_layers=18, width=0.25, semantic_input="onehot")
    path = save_checkpoint(tmp_path / "signet.pt", SemDepthNet(config), CheckpointMeta(config, 64, 192))
    with pytest.raises(CheckpointError, match="takes class maps as input.*no segmenter"):
        Predictor.load(path, device="cpu")
    model = SemDepthNet(config)
    outputs = model(torch.rand(1, 3, 64, 192), classes=torch.zeros(1, 64, 192, dtype=torch.long))  # given maps
    assert ("disp", 0) in outputs


def test_torchscript_guide_runs_and_must_be_present(tmp_path: Path, torchscript_segmenter: Path) -> None:
    """A user segmenter (19 class scores) guides the PAC layers and gives the Cityscapes input classes;
    the checkpoint names its file, a missing file is one clear error."""
    config = ModelConfig(num_layers=18, width=0.25, guide="torchscript", guide_path=str(torchscript_segmenter),
                         pac=True, semantic_input="onehot", semantic_input_classes="cityscapes")
    assert config.extra_input_channels == 19
    model = SemDepthNet(config)
    assert model.guide.level_channels == [19] * 5
    path = save_checkpoint(tmp_path / "ts.pt", model, CheckpointMeta(config, 64, 192))
    assert read_meta(path).model_config.guide_path == str(torchscript_segmenter)
    pred = Predictor.load(path, device="cpu").predict(np.zeros((64, 192, 3), np.uint8), with_points=False)
    assert np.isfinite(pred.depth).all()
    with pytest.raises(ExportError, match="TorchScript guide"):
        export_onnx(model, CheckpointMeta(config, 64, 192), tmp_path / "ts.onnx")
    torchscript_segmenter.rename(torchscript_segmenter.with_suffix(".moved"))
    try:
        with pytest.raises(CheckpointError, match="guide model not found"):
            Predictor.load(path, device="cpu")
    finally:
        torchscript_segmenter.with_suffix(".moved").rename(torchscript_segmenter)


@pytest.mark.parametrize("switches", [dict(guide="branch", pac=True), dict(lateral_sharing=True),
                                      dict(guide="branch", semantic_input="dense", semantic_input_edges=True)],
                         ids=["pac", "lateral", "semantic_input"])
def test_variants_export_to_onnx(tmp_path: Path, switches: dict) -> None:
    """Pixel-adaptive convolutions, sharing units and the class-map encoding are plain tensor ops:
    onnxruntime matches PyTorch within the export's tolerance."""
    config = ModelConfig(num_layers=18, width=0.25, **switches)
    torch.manual_seed(0)
    info = export_onnx(SemDepthNet(config).eval(), CheckpointMeta(config, 64, 192), tmp_path / "v.onnx")
    assert max(info["max_abs_diff"].values()) <= info["tolerance"] and (tmp_path / "v.onnx").is_file()


def test_bad_variant_configs_are_one_sentence_errors() -> None:
    with pytest.raises(ValueError, match="pac=True needs a frozen semantic network"):
        ModelConfig(pac=True)
    with pytest.raises(ValueError, match="lateral_sharing=True needs semantic=True"):
        ModelConfig(semantic=False, seem=False, attention=False, lateral_sharing=True)
    with pytest.raises(ValueError, match="needs guide_path"):
        ModelConfig(guide="torchscript", pac=True)
    with pytest.raises(ValueError, match="nothing reads it"):
        ModelConfig(guide="branch")
    with pytest.raises(ValueError, match="19-class segmenter"):
        ModelConfig(guide="branch", semantic_input="onehot", semantic_input_classes="cityscapes")
    with pytest.raises(ValueError, match="semantic_input must be one of"):
        ModelConfig(semantic_input="rgb")
    with pytest.raises(ValueError, match="loss.semantic_warp_weight must be >= 0"):
        load_config(values={**TINY, "loss.semantic_warp_weight": -1})


def test_two_stage_training_reports_dropped_frames(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`semdepth train` with two_stage.enabled: stage one, the ground-plane check of every training frame,
    stage two on the kept ones; the count is printed and stored."""
    out = tmp_path / "run"
    overrides = [f"{k}={json.dumps(v)}" for k, v in {**TINY, **BRANCH, "model.pac": True}.items()]
    code = semdepth_main(["train", "--out", str(out), "--max-steps", "1", "--set", "two_stage.enabled=true",
                          "--set", "two_stage.threshold=0", *sum((["--set", o] for o in overrides), [])])
    assert code == 0
    report = json.loads((out / "excluded_frames.json").read_text())
    assert report["frames"] == 3 and report["dropped"] == len(report["excluded"])
    assert f"{report['dropped']} of 3 training frames dropped" in capsys.readouterr().out
    assert (out / "stage1" / "models" / "last.pt").is_file() and (out / "stage2" / "models" / "last.pt").is_file()
    stage2 = read_meta(out / "stage2" / "models" / "last.pt").training["config"]["data"]["exclude"]
    assert stage2 == str(out / "excluded_frames.json")


def test_excluded_frames_leave_the_training_set(tmp_path: Path) -> None:
    (tmp_path / "drop.json").write_text(json.dumps({"excluded": [0, 2]}))
    trainer = tiny_trainer(tmp_path / "run", **{"data.exclude": str(tmp_path / "drop.json"),
                                                "data.options": {"num_sequences": 1, "config": {"num_frames": 6}}})
    assert len(trainer.train_set) == 2 and trainer.train_set.keep == [1, 3]
    (tmp_path / "bad.json").write_text(json.dumps({"excluded": [7]}))
    with pytest.raises(ValueError, match="outside the training set"):
        tiny_trainer(tmp_path / "run2", **{"data.exclude": str(tmp_path / "bad.json")})


def test_low_light_evaluation_cli(tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    """SIGNet Fig. 6 for any checkpoint: a row per darkness level, JSON and a PNG plot."""
    code = semdepth_main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--kind", "synthetic", "--low-light",
                          "--darkness", "0", "0.5", "0.9", "--max-frames", "2", "--out", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "low_light.json").read_text())
    assert [r["darkness"] for r in data["levels"]] == [0.0, 0.5, 0.9] and data["noise"] == 2.0
    assert all(r["num_images"] == 2 and np.isfinite(r["metrics"]["sq_rel"]) for r in data["levels"])
    assert (tmp_path / "low_light.png").stat().st_size > 1000
    assert "| 0.90 | 0.10 | 2 |" in (tmp_path / "low_light.md").read_text()
    assert semdepth_main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--kind", "synthetic", "--low-light",
                          "--darkness", "1.0", "--out", str(tmp_path / "bad")]) == 2
    assert "must be in [0, 1)" in capsys.readouterr().out


def test_class_figure_has_the_fig4_layout() -> None:
    """Semantically-Guided Representation Learning, Fig. 4: bars per class for each method, the class
    average as the rightmost group."""
    table = {"baseline": {"road": {"abs_rel": 0.2}, "car": {"abs_rel": 0.4}},
             "variant": {"road": {"abs_rel": 0.1}, "car": {"abs_rel": 0.3}}}
    ax = class_figure(table).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["road", "car", "class avg."]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.1, 0.2, 0.2, 0.3, 0.3, 0.4]        # class averages 0.3 and 0.2 included


def test_ablation_script_runs_without_ros(tmp_path: Path) -> None:
    """The ablation (one script) runs on a machine without ROS: it never imports rclpy (rosbags, a
    pure-Python install requirement, is imported by the rosbag dataset kind)."""
    code = ("import runpy, sys\n"
            f"sys.argv = ['ablation.py', '--out', {str(tmp_path)!r}, '--variants', 'default,ldid', '--steps', '1',\n"
            "            '--batch-size', '2', '--train-sequences', '1', '--train-frames', '4', '--test-sequences', '1',\n"
            "            '--test-frames', '2', '--timing-repeats', '1', '--width-mult', '0.25']\n"
            f"try:\n    runpy.run_path({str(REPO / 'scripts' / 'ablation.py')!r}, run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'rclpy' not in {m.split('.')[0] for m in sys.modules}, 'ROS imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**__import__("os").environ,
                   "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    rows = json.loads((tmp_path / "ablation.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["default", "ldid"] and all(r["num_images"] == 2 for r in rows)
    table = (tmp_path / "ablation.md").read_text()
    assert "Class-avg Abs Rel" in table and "ms / image" in table and "Look Deeper into Depth" in table
