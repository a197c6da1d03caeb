"""The fast network path against the reference path: SDPA attention, sync-free SEEM, CUDA-graph
friendliness (no host syncs, no host-to-device copies, no graph breaks), reduced precision."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.model.attention import SelfAttention
from semdepth_ros.model.reference import (ReferenceSelfAttention, reference_network, reference_point_features,
                                          reference_sobel_magnitude, reference_substitute_points)
from semdepth_ros.model.seem import (EVAL_SEED, SEEM, point_grid, sample_edge_points, sample_point_features,
                                     sobel_magnitude, substitute_points)

SMALL = (64, 192)


def _images(b: int, h: int = SMALL[0], w: int = SMALL[1], seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _network(num_layers: int = 18, width: float = 1.0, gamma: float = 0.5) -> SemDepthNet:
    """A random network whose attention is open (gamma = 0 would hide any attention error) and whose
    foreground head is decisive, as a trained one is: a random head puts most pixels within
    rounding noise of 0.5, where two equally valid kernels could pick different SEEM points."""
    torch.manual_seed(0)
    model = SemDepthNet(ModelConfig(num_layers=num_layers, width=width)).eval()
    for module in model.modules():
        if isinstance(module, SelfAttention):
            module.gamma.data.fill_(gamma)
    model.semantic_decoder.heads[0].conv.weight.data.mul_(100.0)
    return model


def _assert_outputs_close(fast: dict, reference: dict, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert fast.keys() == reference.keys()
    assert torch.equal(fast["seem_points"], reference["seem_points"])
    for key in fast:
        torch.testing.assert_close(fast[key], reference[key], rtol=rtol, atol=atol, msg=str(key))


# --- attention -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [64, 32, 77])  # query/key 8, 4, 9 wide; 77: value padded too
@pytest.mark.parametrize("channels_last", [False, True])
def test_sdpa_attention_matches_the_explicit_formula(channels: int, channels_last: bool) -> None:
    torch.manual_seed(0)
    fast = SelfAttention(channels)
    fast.gamma.data.fill_(0.7)
    reference = ReferenceSelfAttention(channels)
    reference.load_state_dict(fast.state_dict())
    x = 3 * torch.randn(2, channels, 12, 40)
    expected = reference(x)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    actual = fast(x.contiguous(memory_format=memory_format))
    # 1e-5 of the output's range: the logits are large (no 1/sqrt(d)), so a different but equally
    # valid summation order moves single values by more than 1e-5 of themselves.
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5 * expected.abs().max().item())
    assert (expected - x).abs().max() > 1.0  # the attention term is far from negligible here
    # Training runs through SDPA too: its gradients match the formula's.
    actual.square().mean().backward()
    expected.square().mean().backward()
    for (name, p_fast), p_ref in zip(fast.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_attention_keeps_the_autocast_dtype() -> None:
    """gamma (fp32) must not promote bf16/fp16 features back to fp32 between decoder layers."""
    attention = SelfAttention(64)
    attention.gamma.data.fill_(0.5)
    x = torch.randn(1, 64, 6, 20)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attention(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), attention(x), rtol=0.05, atol=0.05)


# --- SEEM --------------------------------------------------------------------------------------

def test_sobel_slices_equal_the_convolution_and_a_hand_value() -> None:
    generator = torch.Generator().manual_seed(0)
    mask = (torch.rand(3, 1, 40, 56, generator=generator) > 0.6).float()
    for squared in (True, False):
        assert torch.equal(sobel_magnitude(mask, squared), reference_sobel_magnitude(mask, squared))
    # A vertical step (columns >= 5 are 1): d/dx = (1 + 2 + 1) * 1 on the two columns beside it,
    # d/dy = 0, so the squared response is 16 there and 0 elsewhere (replicate padding: no border).
    step = torch.zeros(1, 1, 6, 10)
    step[..., 5:] = 1
    expected = torch.zeros(1, 1, 6, 10)
    expected[..., 4:6] = 16
    assert torch.equal(sobel_magnitude(step, squared=True), expected)


def test_eval_draw_is_numpy_default_rng_with_eval_seed() -> None:
    """The fixed eval points come from this draw; recomputed here independently, so the points (and
    thus the outputs of trained checkpoints) stay those of the first implementation."""
    seem = SEEM([8, 8], [8, 8, 8], [8, 8, 8], 8, n_points=100).eval()
    h, w, n = 32, 96, 100
    noise = seem.sampling_noise(torch.zeros(1, 1, h, w), n)
    rng = np.random.default_rng(EVAL_SEED)
    n_edge = round(0.4 * n)
    np.testing.assert_array_equal(noise.tie_rank.numpy(), rng.permutation(h * w)[None])
    np.testing.assert_array_equal(noise.offsets.numpy(), rng.integers(-3, 4, (1, n_edge, 2)))
    xs, ys = rng.integers(0, w, (1, n - 2 * n_edge)), rng.integers(0, h, (1, n - 2 * n_edge))
    np.testing.assert_array_equal(noise.random_xy.numpy(), np.stack([xs, ys], -1))
    assert seem.sampling_noise(torch.zeros(1, 1, h, w), n) is noise  # drawn once per size and device


def test_point_features_match_the_reference_and_stay_exact_in_bf16() -> None:
    h, w = 64, 640
    points = torch.stack([torch.randint(0, w, (2, 500)), torch.randint(0, h, (2, 500))], -1)
    maps = [torch.randn(2, 4, h // 4, w // 4), torch.randn(2, 3, h // 2, w // 2)]
    grid = point_grid(points, h, w)
    assert grid.dtype == torch.float32
    assert torch.equal(sample_point_features(maps, grid), reference_point_features(maps, points, h, w))
    # A stripe pattern of 0/1 (exact in bf16) at 1/4 resolution: sampling bf16 maps must hit the
    # same positions as float32. A bf16 grid misplaces points by up to ~1 pixel at x ~ 600.
    stripes = (torch.arange(w // 4) % 2).float().expand(1, 1, h // 4, w // 4).repeat(2, 1, 1, 1)
    exact = sample_point_features([stripes], grid)
    low = sample_point_features([stripes.bfloat16()], grid)
    assert low.dtype == torch.bfloat16
    assert (low.float() - exact).abs().max() < 0.01
    old_way = reference_point_features([stripes.bfloat16()], points, h, w)
    assert (old_way.float() - exact).abs().max() > 0.1  # what the float32 grid fixes


def test_substitution_matches_the_reference_with_repeated_pixels() -> None:
    """Means where points repeat (values and gradients), untouched pixels elsewhere."""
    generator = torch.Generator().manual_seed(4)
    feature_map = torch.randn(2, 5, 12, 20, generator=generator, requires_grad=True)
    points = torch.stack([torch.randint(0, 20, (2, 90), generator=generator),
                          torch.randint(0, 12, (2, 90), generator=generator)], -1)
    points[:, 60:] = points[:, :30]  # 30 pixels hit twice
    points[:, 45] = points[:, 0]  # and one three times
    values = torch.randn(2, 5, 90, generator=generator, requires_grad=True)
    actual = substitute_points(feature_map, points, values)
    expected = reference_substitute_points(feature_map, points, values)
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(actual[0, :, points[0, 0, 1], points[0, 0, 0]],  # the mean of the three
                               values[0][:, [0, 45, 60]].mean(1), rtol=1e-6, atol=1e-6)
    weights = torch.randn(actual.shape, generator=generator)
    for a, e in zip(torch.autograd.grad((actual * weights).sum(), (feature_map, values)),
                    torch.autograd.grad((expected * weights).sum(), (feature_map, values))):
        torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-6)


def test_edge_points_take_a_shared_draw_for_any_batch() -> None:
    """A frame gets the same points alone and in a batch (eval draws have batch 1)."""
    seem = SEEM([8, 8], [8, 8, 8], [8, 8, 8], 8, n_points=300).eval()
    masks = (torch.rand(3, 1, *SMALL, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    noise = seem.sampling_noise(masks, 300)
    batch = sample_edge_points(masks, noise)
    for i in range(3):
        alone = sample_edge_points(masks[i:i + 1], noise)
        assert torch.equal(alone[0], batch[i])


@pytest.mark.parametrize("num_layers,width", [(18, 1.0), (50, 0.5)])
@pytest.mark.parametrize("training", [False, True])
def test_network_matches_the_reference_path(num_layers: int, width: float, training: bool) -> None:
    model = _network(num_layers, width).train(training)
    reference = reference_network(model)
    assert type(reference.depth_decoder.seem).__name__ == "ReferenceSEEM"
    images = _images(2)
    outputs = []
    for net in (model, reference):
        torch.manual_seed(3)  # training draws fresh points: the same draws for both
        with torch.no_grad():
            outputs.append(net(images))
    _assert_outputs_close(*outputs)


def test_channels_last_and_batch_invariance() -> None:
    model = _network()
    images = _images(3)
    with torch.no_grad():
        expected = reference_network(model)(images)
        fast = model.to(memory_format=torch.channels_last)(images.contiguous(memory_format=torch.channels_last))
        alone = model(images[1:2])
    _assert_outputs_close(fast, expected, rtol=1e-4, atol=1e-5)
    assert torch.equal(alone["seem_points"][0], expected["seem_points"][1])
    torch.testing.assert_close(alone[("disp", 0)][0], expected[("disp", 0)][1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["autocast", "weights"])
def test_bf16_runs_with_float32_sampling(mode: str) -> None:
    """Reduced precision (autocast for training, converted weights for inference) stays finite,
    keeps int64 points in range and close to float32."""
    model = _network().to(memory_format=torch.channels_last)
    images = _images(2).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = model(images)
        if mode == "autocast":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                low = model(images)
        else:
            low = model.bfloat16()(images.bfloat16())
    assert low["seem_points"].dtype == torch.int64
    assert (low["seem_points"] >= 0).all() and (low["seem_points"][..., 0] < SMALL[1]).all()
    for s in range(4):
        assert low[("disp", s)].dtype == torch.bfloat16 and torch.isfinite(low[("disp", s)]).all()
        assert (low[("disp", s)].float() - expected[("disp", s)]).abs().mean() < 0.02


# --- no host sync, no host-to-device copy, no graph break ---------------------------------------

_SYNCING_OPS = {torch.ops.aten._local_scalar_dense, torch.ops.aten.nonzero, torch.ops.aten.masked_select,
                torch.ops.aten.lift_fresh, torch.ops.aten.lift_fresh_copy, torch.ops.aten.unique_dim,
                torch.ops.aten._unique2, torch.ops.aten.repeat_interleave}


class _DeviceWatch(TorchDispatchMode):
    """Records every op that syncs with the host or touches a tensor off ``device``."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.violations: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if func.overloadpacket in _SYNCING_OPS:
            self.violations.append(f"{func} syncs with the host")
        out = func(*args, **kwargs)
        for tensor in tree_flatten((args, kwargs, out))[0]:
            if isinstance(tensor, torch.Tensor) and tensor.device != self.device:
                self.violations.append(f"{func} touches a tensor on {tensor.device}")
        return out


@contextmanager
def _no_host_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """torch.tensor(data, device=...) copies host data without a visible op: catch the calls."""
    calls: list[str] = []
    for name in ("tensor", "as_tensor", "from_numpy"):
        original = getattr(torch, name)

        def record(*args, _name=name, _original=original, **kwargs):  # noqa: ANN002, ANN003
            calls.append(f"torch.{_name}")
            return _original(*args, **kwargs)
        monkeypatch.setattr(torch, name, record)
    yield calls
    monkeypatch.undo()


def test_device_watch_catches_host_tensors_and_syncs(monkeypatch: pytest.MonkeyPatch) -> None:
    device = torch.device("meta")
    x = torch.ones(2, 3, device=device)
    watch = _DeviceWatch(device)
    with _no_host_data(monkeypatch) as host_data, watch:
        x + torch.arange(3).to(device)  # made on the host, then copied
        x * torch.tensor([1.0, 2.0, 3.0], device=device)
        with pytest.raises(NotImplementedError):  # meta tensors hold no data to count
            torch.nonzero(x)
    assert host_data == ["torch.tensor"]
    assert any("on cpu" in v for v in watch.violations)
    assert any("nonzero" in v for v in watch.violations)


@pytest.mark.parametrize("training", [False, True])
def test_forward_has_no_host_sync_or_host_copy(training: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the meta device (a stand-in accelerator: no data, so anything reading values fails), after
    one warm-up pass, the forward pass runs no syncing op and no op on a host tensor; the
    reference path does both, which shows the check can fail."""
    device = torch.device("meta")
    model = _network().to(device).train(training)
    images = torch.empty(2, 3, *SMALL, device=device)
    for net, clean in ((model, True), (reference_network(model), False)):
        with torch.no_grad():
            net(images)  # warm-up: the eval draw of SEEM is made once per size and device
            watch = _DeviceWatch(device)
            with _no_host_data(monkeypatch) as host_data, watch:
                outputs = net(images)
        assert outputs[("disp", 0)].shape == (2, 1, *SMALL)
        problems = sorted(set(watch.violations + host_data))
        assert (problems == []) == clean, problems


def test_whole_network_traces_without_graph_breaks() -> None:
    """torch.compile(fullgraph=True) fails on data-dependent control flow, .item(), nonzero and
    NumPy calls: the forward pass is one static graph (the backend is irrelevant, so eager)."""
    model = _network()
    images = _images(1)
    with torch.no_grad():
        expected = model(images)  # warm-up (the eval draw); then one graph
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend="eager", dynamic=False)
        _assert_outputs_close(compiled(images), expected)


def test_onnx_export_with_open_attention_matches_the_reference(tmp_path: Path) -> None:
    """The SDPA attention exports (scale=1, padded heads) and ONNX Runtime agrees with the reference."""
    import onnxruntime

    from semdepth_training.export import ONNX_TOLERANCE, export_onnx

    model = _network(width=0.5)  # query/key heads padded from 4, 8, 16 channels to 32, 64, 128
    meta = CheckpointMeta(model_config=model.config, input_height=SMALL[0], input_width=SMALL[1])
    check = export_onnx(model, meta, tmp_path / "m.onnx")
    assert max(check["max_abs_diff"].values()) <= ONNX_TOLERANCE
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    image = _images(1, seed=5)
    disp, fg = session.run(["disp", "fg"], {"image": image.numpy()})
    with torch.no_grad():
        expected = reference_network(model)(image)
    np.testing.assert_allclose(disp, expected[("disp", 0)].numpy(), atol=ONNX_TOLERANCE, rtol=0)
    np.testing.assert_allclose(fg, expected[("fg", 0)].numpy(), atol=ONNX_TOLERANCE, rtol=0)


# --- CUDA graph (runs where a GPU is present) -----------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_captured_network_replays_the_eager_outputs(dtype: torch.dtype) -> None:
    from semdepth_ros.model.cuda_graph import CapturedNetwork

    model = _network().cuda().to(dtype=dtype, memory_format=torch.channels_last)
    images = [_images(2, seed=s).cuda().to(dtype) for s in (1, 2)]
    captured = CapturedNetwork(model, images[0].contiguous(memory_format=torch.channels_last))
    tolerance = 1e-4 if dtype == torch.float32 else 2e-2
    for image in images:
        with torch.no_grad():
            expected = model(image.contiguous(memory_format=torch.channels_last))
        replayed = captured(image)
        assert torch.equal(replayed["seem_points"], expected["seem_points"])
        torch.testing.assert_close(replayed[("disp", 0)], expected[("disp", 0)], rtol=0, atol=tolerance)
    with pytest.raises(ValueError, match="captured for input"):
        captured(images[0][:1])


# --- the benchmark script --------------------------------------------------------------------------

def test_bench_network_quick_prints_every_path_and_writes_a_chart(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    chart = tmp_path / "bench.png"
    command = [sys.executable, str(repo / "scripts" / "bench_network.py"), "--quick", "--device", "cpu",
               "--threads", "1", "--iters", "1", "--warmup", "0", "--png", str(chart)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| R18 |")]
    paths = ["reference fp32", "fast fp32", "fast fp32 channels_last", "fast bf16 channels_last"]
    assert [row.split(" | ")[2] for row in rows] == paths * 2  # batches 1 and 2
    assert all(row.split(" | ")[6].endswith("x") for row in rows)  # the speed-up column
    fp32_rows = [row for row in rows if "bf16" not in row]
    assert all(row.rstrip(" |").endswith("100.0%") for row in fp32_rows)  # fp32 paths pick the same points
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
