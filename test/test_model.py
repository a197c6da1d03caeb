"""Network shapes, SEEM sampling/substitution, attention, gradients, weight loading, pose net."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from semdepth_ros.model import ModelConfig, PoseNet, ResNetEncoder, SemDepthNet
from semdepth_ros.model.attention import SelfAttention
from semdepth_ros.model.seem import (POINT_DISTURBED, POINT_EDGE, POINT_RANDOM, SEEM, draw_sampling_noise,
                                     point_kinds, sample_edge_points, sobel_magnitude)

SMALL = (64, 192)


def _images(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _check_outputs(outputs: dict, config: ModelConfig, b: int, h: int, w: int) -> None:
    for s in range(4):
        shape = (b, 1, h // 2 ** s, w // 2 ** s)
        assert outputs[("disp", s)].shape == shape
        assert ((outputs[("disp", s)] >= 0) & (outputs[("disp", s)] <= 1)).all()
        if config.semantic:
            assert outputs[("fg", s)].shape == shape
        else:
            assert ("fg", s) not in outputs
    if config.seem:
        points = outputs["seem_points"]
        n = max(64, round(config.seem_points * h * w / config.seem_reference_pixels))
        assert points.shape == (b, n, 2)
        assert (points[..., 0] < w).all() and (points[..., 1] < h).all() and (points >= 0).all()
    else:
        assert "seem_points" not in outputs


@pytest.mark.parametrize("num_layers", [18, 50])
@pytest.mark.parametrize("size", [SMALL, (192, 640)])
def test_output_shapes(num_layers: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    config = ModelConfig(num_layers=num_layers)
    model = SemDepthNet(config).eval()
    with torch.no_grad():
        outputs = model(_images(1, *size))
    _check_outputs(outputs, config, 1, *size)


def test_parameter_counts() -> None:
    counts = {}
    for layers in (18, 50):
        model = SemDepthNet(ModelConfig(num_layers=layers))
        counts[layers] = (sum(p.numel() for p in model.encoder.parameters()),
                          sum(p.numel() for p in model.parameters()))
        encoder, total = counts[layers]
        print(f"R{layers}: encoder {encoder / 1e6:.3f}M, full network {total / 1e6:.3f}M")
    pose = sum(p.numel() for p in PoseNet().parameters())
    print(f"PoseNet R18: {pose / 1e6:.3f}M")
    assert 23.0e6 < counts[50][0] < 24.0e6  # torchvision resnet50 without fc: 23.51M
    assert 11.0e6 < counts[18][0] < 11.4e6  # torchvision resnet18 without fc: 11.18M


@pytest.mark.parametrize("changes", [dict(semantic=False, seem=False, attention=False),
                                     dict(seem=False), dict(attention=False)])
def test_ablations_run(changes: dict) -> None:
    config = ModelConfig(num_layers=18, **changes)
    model = SemDepthNet(config).eval()
    with torch.no_grad():
        outputs = model(_images(2, *SMALL))
    _check_outputs(outputs, config, 2, *SMALL)


def test_eval_is_deterministic() -> None:
    model = SemDepthNet(ModelConfig(num_layers=18)).eval()
    images = _images(1, *SMALL)
    with torch.no_grad():
        first, second = model(images), model(images)
    assert torch.equal(first["seem_points"], second["seem_points"])
    assert torch.equal(first[("disp", 0)], second[("disp", 0)])


def test_input_size_must_be_multiple_of_32() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        SemDepthNet(ModelConfig(num_layers=18))(torch.rand(1, 3, 70, 192))


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = SemDepthNet(ModelConfig(num_layers=18)).train()
    # With gamma = 0 (its initial value, Sec. 4.3) the query/key/value convs get exactly zero
    # gradient by construction, so open the attention before checking that gradients flow.
    for module in model.modules():
        if isinstance(module, SelfAttention):
            module.gamma.data.fill_(0.5)
    outputs = model(_images(2, *SMALL))
    loss = sum(outputs[("disp", s)].mean() + outputs[("fg", s)].mean() for s in range(4))
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_config_round_trip_and_validation() -> None:
    config = ModelConfig(num_layers=18, attention=False, seem_points=500)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="num_layers"):
        ModelConfig(num_layers=34)
    with pytest.raises(ValueError, match="seem=True needs semantic"):
        ModelConfig(semantic=False, attention=False)
    with pytest.raises(ValueError, match="attention=True needs semantic"):
        ModelConfig(semantic=False, seem=False)
    with pytest.raises(ValueError, match="seem_edge_ratio"):
        ModelConfig(seem_edge_ratio=0.6)
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"num_layers": 18, "dropout": 0.1})


def _rectangle_mask(h: int = 64, w: int = 192) -> torch.Tensor:
    mask = torch.zeros(2, 1, h, w)
    mask[0, :, 10:40, 20:100] = 1
    mask[1, :, 30:, 120:] = 1  # touches the image border: no edge must be found there
    return mask


def test_sample_edge_points() -> None:
    mask = _rectangle_mask()
    n, mu, c = 300, 0.4, 3
    noise = draw_sampling_noise(2, 64, 192, n, mu, c, torch.Generator().manual_seed(1))
    points, kind = sample_edge_points(mask, noise), point_kinds(noise)
    n_edge = round(mu * n)
    assert points.shape == (2, n, 2) and points.dtype == torch.long
    assert (kind == POINT_EDGE).sum() == n_edge
    assert (kind == POINT_DISTURBED).sum() == n_edge
    assert (kind == POINT_RANDOM).sum() == n - 2 * n_edge
    edges = sobel_magnitude(mask)[:, 0]
    for b in range(2):
        assert (edges[b] > 0).sum() >= n_edge  # enough edge pixels for the test to be meaningful
        x, y = points[b, kind == POINT_EDGE].unbind(-1)
        assert (edges[b, y, x] > 0).all()
        moved = points[b, kind == POINT_DISTURBED] - points[b, kind == POINT_EDGE]
        assert moved.abs().max() <= c  # Chebyshev distance to its edge point
    assert (points[..., 0] >= 0).all() and (points[..., 0] < 192).all()
    assert (points[..., 1] >= 0).all() and (points[..., 1] < 64).all()
    with pytest.raises(ValueError):
        draw_sampling_noise(2, 64, 192, n, 0.6, c)


def test_seem_substitutes_only_sampled_points() -> None:
    torch.manual_seed(0)
    h, w = SMALL
    seem = SEEM([64, 64], [64, 32, 16], [64, 32, 16], 16, n_points=3000).train()
    depth = torch.randn(2, 16, h, w)
    fg = _rectangle_mask()
    enc = [torch.randn(2, 64, h // 4, w // 4), torch.randn(2, 64, h // 2, w // 2)]
    dec = [torch.randn(2, ch, h // 2 ** (i + 1), w // 2 ** (i + 1)) for ch, i in ((64, 2), (32, 1), (16, 0))]
    out, points = seem(depth, fg, enc, dec, [t.clone() for t in dec])
    assert points.shape == (2, seem.num_points(h, w), 2)
    sampled = torch.zeros(2, h, w, dtype=torch.bool)
    for b in range(2):
        sampled[b, points[b, :, 1], points[b, :, 0]] = True
    changed = (out != depth).any(dim=1)
    assert torch.equal(changed, sampled)


def test_attention_is_identity_at_init() -> None:
    x = torch.randn(2, 64, 6, 20)
    attention = SelfAttention(64)
    assert torch.equal(attention(x), x)
    attention.gamma.data.fill_(1.0)
    assert not torch.allclose(attention(x), x)


def _save_torchvision_style(encoder: ResNetEncoder, path: Path) -> None:
    """A file shaped like torchvision's: our key names plus the classifier the encoder lacks."""
    state = dict(encoder.state_dict())
    state["fc.weight"] = torch.randn(1000, encoder.num_ch_enc[-1])
    state["fc.bias"] = torch.randn(1000)
    torch.save(state, path)


def test_load_torchvision_state_dict_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = ResNetEncoder(18)
    for m in source.modules():  # non-trivial BN statistics so a skipped buffer would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18.pth"
    _save_torchvision_style(source, path)
    loaded = ResNetEncoder(18, pretrained_path=path)
    x = _images(1, *SMALL)
    with torch.no_grad():
        for a, b in zip(source.eval()(x), loaded.eval()(x)):
            assert torch.equal(a, b)
    # A stacked pair of identical frames reproduces the single-frame features (conv1 / num_images).
    pair = ResNetEncoder(18, num_input_images=2, pretrained_path=path).eval()
    with torch.no_grad():
        assert torch.allclose(pair(torch.cat([x, x], 1))[-1], source(x)[-1], rtol=1e-4, atol=1e-4)


def test_load_torchvision_state_dict_errors(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    _save_torchvision_style(ResNetEncoder(18), path)
    with pytest.raises(ValueError, match="holds ResNet-18 weights, not the ResNet-50"):
        ResNetEncoder(50).load_torchvision_state_dict(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        ResNetEncoder(18, pretrained_path=tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError):
        SemDepthNet(ModelConfig(num_layers=18, pretrained_path=str(tmp_path / "missing.pth")))


def test_pose_net() -> None:
    torch.manual_seed(0)
    pose = PoseNet().eval()
    a, b = _images(2, *SMALL, seed=1), _images(2, *SMALL, seed=2)
    with torch.no_grad():
        axisangle, translation = pose(a, b)
    assert axisangle.shape == (2, 1, 3) and translation.shape == (2, 1, 3)
    # The 6-vector is the spatial mean of the last conv, times 0.01: a constant bias shows the scale.
    with torch.no_grad():
        pose.decoder.pose_out.weight.zero_()
        pose.decoder.pose_out.bias.copy_(torch.arange(1.0, 7.0))
        axisangle, translation = pose(a, b)
    assert torch.allclose(axisangle, 0.01 * torch.tensor([1.0, 2.0, 3.0]).expand(2, 1, 3))
    assert torch.allclose(translation, 0.01 * torch.tensor([4.0, 5.0, 6.0]).expand(2, 1, 3))


def test_width_multiplier_shrinks_every_part():
    """width < 1 (the bundled model's variant) keeps the outputs and cuts parameters ~4x."""
    full = SemDepthNet(ModelConfig(num_layers=18))
    half = SemDepthNet(ModelConfig(num_layers=18, width=0.5))
    n_full = sum(p.numel() for p in full.parameters())
    n_half = sum(p.numel() for p in half.parameters())
    assert 0.2 < n_half / n_full < 0.3
    with torch.no_grad():
        out = half.eval()(torch.rand(1, 3, 64, 192))
    assert out[("disp", 0)].shape == (1, 1, 64, 192) and out[("fg", 3)].shape == (1, 1, 8, 24)
    with pytest.raises(ValueError, match="width"):
        ModelConfig(width=0.0)
