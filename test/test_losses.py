"""Loss terms and view synthesis against independent hand computations (numpy, explicit loops)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semdepth_ros.geometry import intrinsics_4x4
from semdepth_training.losses import (LossSettings, automasked_min_reprojection, compute_losses,
                                      min_reprojection, photometric_error, semantic_bce,
                                      smoothness_loss, ssim_distance)
from semdepth_training.warping import warp_image


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).random(shape)).double()


def _ssim_reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Loop SSIM over 3x3 windows of the mirror-padded (edge not repeated) images [C,H,W]."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    yp = np.pad(y, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    out = np.zeros_like(x)
    for c in range(x.shape[0]):
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                wx, wy = xp[c, i:i + 3, j:j + 3], yp[c, i:i + 3, j:j + 3]
                mx, my = wx.mean(), wy.mean()
                vx, vy = (wx ** 2).mean() - mx ** 2, (wy ** 2).mean() - my ** 2
                cov = (wx * wy).mean() - mx * my
                ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
                out[c, i, j] = min(max((1 - ssim) / 2, 0.0), 1.0)
    return out


def test_ssim_matches_loop_reference() -> None:
    x, y = _rand(1, 2, 5, 6, seed=1), _rand(1, 2, 5, 6, seed=2)
    expected = _ssim_reference(x[0].numpy(), y[0].numpy())
    np.testing.assert_allclose(ssim_distance(x, y)[0].numpy(), expected, rtol=1e-9, atol=1e-12)
    assert ssim_distance(x, x).abs().max() < 1e-12


def _ssim_pooled_one_by_one(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The first implementation: each statistic padded and pooled on its own (five calls each)."""
    def pool(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(t, (1, 1, 1, 1), mode="reflect"), 3, stride=1)

    mu_x, mu_y = pool(x), pool(y)
    var_x = pool(x * x) - mu_x * mu_x
    var_y = pool(y * y) - mu_y * mu_y
    cov_xy = pool(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + 0.01 ** 2) * (2 * cov_xy + 0.03 ** 2)
    den = (mu_x * mu_x + mu_y * mu_y + 0.01 ** 2) * (var_x + var_y + 0.03 ** 2)
    return torch.clamp((1 - num / den) / 2, 0, 1)


def test_stacked_ssim_equals_pooling_one_by_one() -> None:
    """Same loss and gradient in float32 as the five-pool version, on image-like inputs."""
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 48, 80, generator=generator)
    pred = (target + 0.1 * torch.randn(2, 3, 48, 80, generator=generator)).clamp(0, 1).requires_grad_()
    expected = _ssim_pooled_one_by_one(pred, target)
    actual = ssim_distance(pred, target)
    assert (actual - expected).abs().max() <= 1e-6
    assert abs(actual.mean().item() - expected.mean().item()) <= 1e-6
    grad_expected, = torch.autograd.grad(expected.mean(), pred)
    grad_actual, = torch.autograd.grad(actual.mean(), pred)
    torch.testing.assert_close(grad_actual, grad_expected, rtol=1e-5, atol=1e-9)
    with torch.no_grad():  # the identity term: nothing requires a gradient
        assert (ssim_distance(target, pred) - _ssim_pooled_one_by_one(target, pred)).abs().max() <= 1e-6


def test_photometric_is_weighted_ssim_plus_l1() -> None:
    x, y = _rand(1, 3, 4, 5, seed=3), _rand(1, 3, 4, 5, seed=4)
    ssim = _ssim_reference(x[0].numpy(), y[0].numpy()).mean(0)
    l1 = np.abs(x[0].numpy() - y[0].numpy()).mean(0)
    expected = 0.85 * ssim + 0.15 * l1
    np.testing.assert_allclose(photometric_error(x, y)[0, 0].numpy(), expected, rtol=1e-9)


def test_min_reprojection_takes_per_pixel_minimum() -> None:
    errors = torch.tensor([[[[0.3, 0.1]], [[0.2, 0.5]]]])  # [B=1, F=2, H=1, W=2]
    torch.testing.assert_close(min_reprojection(errors), torch.tensor([[[[0.2, 0.1]]]]))


def test_automask_keeps_pixels_where_warping_beats_identity() -> None:
    reprojection = torch.tensor([[[[0.3, 0.1, 0.4]], [[0.2, 0.5, 0.6]]]])
    identity = torch.tensor([[[[0.25, 0.05, 0.7]], [[0.9, 0.9, 0.5]]]])
    error, mask = automasked_min_reprojection(reprojection, identity, noise=0.0)
    # pixel 0: best warp 0.2 < best identity 0.25 -> kept; pixel 1: identity 0.05 wins; pixel 2: 0.4 < 0.5
    torch.testing.assert_close(error, torch.tensor([[[[0.2, 0.05, 0.4]]]]))
    assert mask.tolist() == [[[[True, False, True]]]]


def test_automask_noise_breaks_exact_ties() -> None:
    torch.manual_seed(0)
    tied = torch.full((1, 2, 32, 32), 0.5)
    error, mask = automasked_min_reprojection(tied, tied.clone())
    assert 0.2 < mask.float().mean() < 0.8  # ties split both ways, not all to one side
    torch.testing.assert_close(error, torch.full_like(error, 0.5), atol=1e-4, rtol=0)


def test_smoothness_matches_loop_reference() -> None:
    disp, img = _rand(1, 1, 4, 5, seed=5), _rand(1, 3, 4, 5, seed=6)
    d = disp[0, 0].numpy() / (disp[0, 0].numpy().mean() + 1e-7)
    im = img[0].numpy()
    h, w = d.shape
    gx = [abs(d[i, j] - d[i, j + 1]) * np.exp(-np.abs(im[:, i, j] - im[:, i, j + 1]).mean())
          for i in range(h) for j in range(w - 1)]
    gy = [abs(d[i, j] - d[i + 1, j]) * np.exp(-np.abs(im[:, i, j] - im[:, i + 1, j]).mean())
          for i in range(h - 1) for j in range(w)]
    expected = np.mean(gx) + np.mean(gy)
    assert smoothness_loss(disp, img).item() == pytest.approx(expected, rel=1e-9)
    # scale-invariant: multiplying disparity by a constant does not change the loss (mean-normalised)
    assert smoothness_loss(3 * disp, img).item() == pytest.approx(expected, rel=1e-6)


def test_semantic_bce_only_on_labelled_samples() -> None:
    prob = _rand(3, 1, 2, 3, seed=7).clamp(0.05, 0.95)
    mask = (_rand(3, 1, 2, 3, seed=8) > 0.5).double()
    valid = torch.tensor([1.0, 0.0, 1.0])
    p, y = prob.numpy(), mask.numpy()
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    expected = (bce[0].mean() + bce[2].mean()) / 2
    assert semantic_bce(prob, mask, valid).item() == pytest.approx(expected, rel=1e-6)
    assert semantic_bce(prob, mask, torch.zeros(3)).item() == 0.0


def _intrinsics(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    k3 = np.array([[0.6 * width, 0, width / 2], [0, 1.2 * height, height / 2], [0, 0, 1]])
    k = torch.from_numpy(intrinsics_4x4(k3)).unsqueeze(0)
    return k, torch.linalg.inv(k)


def test_warp_with_identity_pose_returns_the_frame() -> None:
    frame, depth = _rand(2, 3, 8, 12, seed=9).float(), 0.5 + 50 * _rand(2, 1, 8, 12, seed=10).float()
    k, inv_k = _intrinsics(8, 12)
    warped = warp_image(frame, depth, k.repeat(2, 1, 1), inv_k.repeat(2, 1, 1), torch.eye(4).repeat(2, 1, 1))
    torch.testing.assert_close(warped, frame, atol=1e-5, rtol=0)


def test_warp_translation_shifts_by_disparity() -> None:
    """A plane at depth Z seen after moving tx: the source pixel is u + fx * tx / Z (T: target->source)."""
    height, width = 6, 16
    frame = _rand(1, 3, height, width, seed=11).float()
    k, inv_k = _intrinsics(height, width)
    fx, depth = k[0, 0, 0].item(), 4.0
    t = torch.eye(4).unsqueeze(0)
    t[0, 0, 3] = 2 * depth / fx  # two pixels
    warped = warp_image(frame, torch.full((1, 1, height, width), depth), k, inv_k, t)
    torch.testing.assert_close(warped[..., :-2], frame[..., 2:], atol=1e-5, rtol=0)
    torch.testing.assert_close(warped[..., -2:], frame[..., -1:].expand(-1, -1, -1, 2), atol=1e-5, rtol=0)


def test_compute_losses_combines_eq9_over_scales() -> None:
    b, h, w = 2, 32, 64
    k, inv_k = _intrinsics(h, w)
    inputs = {("K", 0): k.repeat(b, 1, 1), ("inv_K", 0): inv_k.repeat(b, 1, 1),
              "fg_mask": (_rand(b, 1, h, w, seed=12) > 0.5).float(), "fg_valid": torch.ones(b)}
    for f in (0, -1, 1):
        for s in range(4):
            inputs[("color", f, s)] = _rand(b, 3, h >> s, w >> s, seed=20 + 4 * f + s).float()
    outputs = {}
    for s in range(4):
        outputs[("disp", s)] = (0.2 + 0.5 * _rand(b, 1, h >> s, w >> s, seed=40 + s).float()).requires_grad_()
        outputs[("fg", s)] = 0.1 + 0.8 * _rand(b, 1, h >> s, w >> s, seed=50 + s).float()
    poses = {f: torch.eye(4).repeat(b, 1, 1) for f in (-1, 1)}
    poses[1][:, 0, 3] = 0.1
    result = compute_losses(inputs, outputs, poses, LossSettings())
    terms = result.terms
    expected = terms["photometric"] + terms["semantic"] + 1e-3 * terms["smoothness"]
    assert result.total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())
    result.total.backward()
    assert all(outputs[("disp", s)].grad.abs().sum() > 0 for s in range(4))
    assert result.depth.shape == result.automask.shape == (b, 1, h, w)
    assert result.warped.shape == (b, 3, h, w)


def test_true_depth_and_pose_explain_synthetic_frames() -> None:
    """On the synthetic world, warping with the generator's depth and poses reproduces the target far
    better than a wrong (scaled or flat) depth does: the loss measures geometry, not just texture."""
    from semdepth_synth import SynthConfig, generate_sequence

    frames = list(generate_sequence(SynthConfig(height=64, width=192, num_frames=3, seed=3)))

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).float()

    images = {f: tensor(frames[f + 1].rgb).permute(2, 0, 1)[None] / 255 for f in (-1, 0, 1)}
    k = tensor(intrinsics_4x4(frames[1].K))[None]
    inv_k = torch.linalg.inv(k)
    poses = {f: tensor(np.linalg.inv(frames[f + 1].pose) @ frames[1].pose)[None] for f in (-1, 1)}
    depth = tensor(np.where(np.isfinite(frames[1].depth), frames[1].depth, 1000.0))[None, None]

    def loss(d: torch.Tensor) -> float:
        errors = torch.cat([photometric_error(warp_image(images[f], d, k, inv_k, poses[f]), images[0])
                            for f in (-1, 1)], 1)
        return min_reprojection(errors).mean().item()

    true = loss(depth)
    assert true < 0.5 * loss(depth * 0.5)
    assert true < 0.5 * loss(torch.full_like(depth, depth.median().item()))
