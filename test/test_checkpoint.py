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


def test_not_a_checkpoint(tmp_path):
    garbage = tmp_path / "g.pt"
    garbage.write_bytes(b"\x00not a torch file")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    raw = tmp_path / "raw.pt"
    torch.save({"conv.weight": torch.zeros(1)}, raw)
    with pytest.raises(CheckpointError, match="not a semdepth_ros checkpoint"):
        load_checkpoint(raw)


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
