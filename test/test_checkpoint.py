"""Checkpoint round trip and one clear error per failure mode."""
import dataclasses

import pytest
import torch

from semdepth_ros.checkpoint import (FORMAT_VERSION, CheckpointError, CheckpointMeta, load_checkpoint,
                                     read_meta, save_checkpoint)
from semdepth_ros.model import ModelConfig, SemDepthNet


def _model(**kw):
    torch.manual_seed(0)
    cfg = ModelConfig(num_layers=18, **kw)
    return SemDepthNet(cfg), CheckpointMeta(model_config=cfg, input_height=64, input_width=192,
                                           scale_factor=3.5, scale_source="fixed")


def test_round_trip(tmp_path):
    model, meta = _model()
    path = save_checkpoint(tmp_path / "m.pt", model, meta)
    loaded, meta2 = load_checkpoint(path)
    assert meta2.scale_factor == 3.5 and meta2.input_width == 192
    assert meta2.model_config == dataclasses.replace(meta.model_config, pretrained_path=None)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert not (tmp_path / "m.pt.tmp").exists()


def test_half_storage_loads_as_float(tmp_path):
    model, meta = _model()
    path = save_checkpoint(tmp_path / "h.pt", model, meta, half=True)
    loaded, _ = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_directory_is_named_as_such(tmp_path):
    model, meta = _model()
    save_checkpoint(tmp_path / "models" / "best.pt", model, meta)
    with pytest.raises(CheckpointError, match=r"is a directory, not a checkpoint file \(it holds models/best.pt\)"):
        load_checkpoint(tmp_path)


class _NotATensor:
    pass


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x00not a torch file", r"not a checkpoint file \(not a PyTorch file at all\)"),
    (bytes(range(256)) * 64, r"not a checkpoint file \(not a PyTorch file at all\)"),
    ("truncated", r"is damaged or truncated, not a readable checkpoint file \(RuntimeError\)"),
    ("object", "holds more than tensors and plain data"),
    ("state_dict", r"not a semdepth_ros checkpoint \(a raw state_dict"),
])
def test_not_a_checkpoint_gives_one_safe_line(tmp_path, content, message):
    """Never torch's text: for files with Python objects it advises weights_only=False (runs the file's code)."""
    path = tmp_path / "bad.pt"
    if content == "truncated":
        full = save_checkpoint(tmp_path / "full.pt", *_model()).read_bytes()
        path.write_bytes(full[: len(full) // 2])
    elif content == "object":
        torch.save({"format": "semdepth_ros.checkpoint", "payload": _NotATensor()}, path)
    elif content == "state_dict":
        torch.save({"conv.weight": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as caught:
        load_checkpoint(path)
    text = str(caught.value)
    assert "weights_only" not in text and "\n" not in text and text.startswith(str(path))


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, bad_value):
    def poison(payload):
        name = [k for k, v in payload["state_dict"].items() if v.is_floating_point()][5]
        payload["state_dict"][name].view(-1)[:3] = bad_value
        payload["poisoned"] = name

    path = _tampered(tmp_path, poison)
    name = torch.load(path, weights_only=True)["poisoned"]
    with pytest.raises(CheckpointError, match=rf"non-finite weights \(NaN or Inf\): 3 of \d+ values of '{name}'"):
        load_checkpoint(path)


def _tampered(tmp_path, edit) -> object:
    """A valid checkpoint file whose payload ``edit`` then changes in place."""
    model, meta = _model()
    path = save_checkpoint(tmp_path / "t.pt", model, meta)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    return path


def test_other_architecture(tmp_path):
    path = _tampered(tmp_path, lambda p: p["meta"]["model_config"].update(num_layers=50))
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(path)


def test_shape_mismatch(tmp_path):
    def shrink_first_conv(payload):
        key = next(k for k, v in payload["state_dict"].items() if v.ndim == 4)
        payload["state_dict"][key] = torch.zeros(1, 1, 1, 1)

    with pytest.raises(CheckpointError, match="shapes do not match"):
        load_checkpoint(_tampered(tmp_path, shrink_first_conv))


def test_newer_format(tmp_path):
    path = _tampered(tmp_path, lambda p: p.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer"):
        read_meta(path)
