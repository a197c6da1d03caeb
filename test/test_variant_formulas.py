"""The variant papers' formulas against hand computations (docs/variants.md): each test names the paper
section it checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semdepth_ros.metrics import DepthErrorAccumulator
from semdepth_ros.model import ModelConfig
from semdepth_ros.model.depth_decoder import LateralSharing
from semdepth_ros.model.layers import Conv3x3
from semdepth_ros.model.pac import PixelAdaptiveConv
from semdepth_ros.model.semantic_input import class_map_edges, encode_class_maps
from semdepth_ros.scale import PlaneFit
from semdepth_training.evaluation.low_light import darken
from semdepth_training.losses import class_masked_photometric_error, photometric_error, smoothness_loss
from semdepth_training.two_stage import FrameCheck, below_ground_mask, excluded_frames, threshold_for
from semdepth_training.variant_losses import (class_boundary_weights, depth_aware_loss, joint_gradient_loss,
                                              masked_photometric_error, one_hot, semantic_warp_error)


# --------------------------------------------------- Semantically-Guided Representation Learning, Sec. 4.1
def test_pixel_adaptive_convolution_eq4_eq5_by_hand() -> None:
    """v'_i = sum_j exp(-|f_i - f_j|^2 / (2 sigma^2)) W[p_i - p_j] v_j + b at the centre of a 3x3 image."""
    pac = PixelAdaptiveConv(1, 1, init_sigma=2.0)
    weights = torch.arange(1.0, 10.0).view(1, 1, 3, 3) / 10
    with torch.no_grad():
        pac.weight.copy_(weights)
        pac.bias.fill_(0.5)
    v = torch.arange(9.0).view(1, 1, 3, 3)
    f = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]).view(1, 1, 3, 3)
    out = pac(v, f)
    expected = 0.5
    for dy in range(3):
        for dx in range(3):
            kernel = math.exp(-(f[0, 0, dy, dx].item() - 0.0) ** 2 / (2 * 2.0 ** 2))
            expected += kernel * weights[0, 0, dy, dx].item() * v[0, 0, dy, dx].item()
    assert out[0, 0, 1, 1].item() == pytest.approx(expected, rel=1e-6)


def test_pixel_adaptive_convolution_with_constant_guide_is_the_plain_convolution() -> None:
    """Sec. 4.1: "the standard convolution can be considered a special case ... K(f_i, f_j) = 1"."""
    torch.manual_seed(0)
    pac, conv = PixelAdaptiveConv(4, 5), Conv3x3(4, 5)
    with torch.no_grad():
        conv.conv.weight.copy_(pac.weight)
        conv.conv.bias.copy_(pac.bias)
    x = torch.rand(2, 4, 6, 7)
    torch.testing.assert_close(pac(x, torch.ones(2, 3, 6, 7)), conv(x), rtol=1e-5, atol=1e-5)


def test_pixel_adaptive_bandwidth_is_learned() -> None:
    """sigma is "an extra learnable parameter for each convolutional filter" (Sec. 4.1)."""
    pac = PixelAdaptiveConv(2, 3)
    pac(torch.rand(1, 2, 5, 5), torch.rand(1, 4, 5, 5)).sum().backward()
    assert pac.log_sigma.grad is not None and pac.log_sigma.grad.abs() > 0


def test_two_stage_counts_foreground_below_the_ground_plane() -> None:
    """Sec. 4.3: a camera 1.5 m above a flat road; a car whose depth is 3x too far lands below the plane."""
    h, w, height = 40, 60, 1.5
    K = np.array([[50.0, 0, 30.0], [0, 50.0, 10.0], [0, 0, 1]])
    rows = np.arange(h, dtype=np.float64)[:, None] - K[1, 2]
    road = np.where(rows > 0, height * K[1, 1] / np.maximum(rows, 1e-9), 80.0) * np.ones((1, w))
    fit = PlaneFit(normal=np.array([0.0, 1.0, 0.0]), distance=height, inlier_ratio=1.0)
    foreground = np.zeros((h, w), np.uint8)
    foreground[25:35, 20:30] = 1                       # the car's pixels, all below the horizon
    correct = road.copy()                              # the car sits on the road: at most on the plane
    assert below_ground_mask(correct, foreground, K, fit, margin=0.5).sum() == 0
    hole = road.copy()
    hole[25:35, 20:30] *= 3.0                          # "infinite depth": y = 3 x 1.5 m > 1.5 x (1 + 0.5)
    assert below_ground_mask(hole, foreground, K, fit, margin=0.5).sum() == 100
    assert threshold_for(192, 640, 10) == 10 and threshold_for(64, 192, 10) == 1
    checks = [FrameCheck(0, 100, "labels"), FrameCheck(1, 0, "labels"), FrameCheck(2, None, "labels")]
    assert excluded_frames(checks, threshold=10) == [0]


# --------------------------------------------------- Look Deeper into Depth
def test_lateral_sharing_unit_table3() -> None:
    """(1 + phi_D) d + phi_S s and (1 + gamma_S) s + gamma_D d (Table 3), per channel."""
    unit = LateralSharing(1)
    with torch.no_grad():
        unit.weights.copy_(torch.tensor([0.5, 0.25, 0.1, -0.2]).view(4, 1, 1, 1, 1))
    depth, semantic = unit(torch.full((1, 1, 2, 2), 2.0), torch.full((1, 1, 2, 2), 3.0))
    assert depth[0, 0, 0, 0].item() == pytest.approx(2 * 1.5 + 0.25 * 3)
    assert semantic[0, 0, 0, 0].item() == pytest.approx(3 * 1.1 - 0.2 * 2)
    fresh = LateralSharing(3)
    d, s = torch.rand(1, 3, 2, 2), torch.rand(1, 3, 2, 2)
    assert all(torch.equal(a, b) for a, b in zip(fresh(d, s), (d, s)))  # starts as two separate decoders


def test_depth_aware_loss_by_hand() -> None:
    """L_DA = mean (alpha_D + lambda_D) |d - d*|, alpha_D = d*/max d*, lambda_D = 1 - min(log)/max(log)
    (with log(1 + d)); the invalid pixel counts for nothing."""
    pred = torch.tensor([2.0, 4.0, 9.0]).view(1, 1, 1, 3)
    gt = torch.tensor([1.0, 4.0, 0.0]).view(1, 1, 1, 3)
    valid = gt > 0
    lam = 1 - math.log(2) / math.log(3)
    expected = ((0.25 + lam) * 1.0 + (1.0 + 0.0) * 0.0) / 2
    assert depth_aware_loss(pred, gt, valid).item() == pytest.approx(expected, rel=1e-6)


def test_joint_gradient_loss_by_hand() -> None:
    """L_JG on log depth: prediction 1, 2, 4 against a flat ground truth: |log 2| twice, averaged."""
    pred = torch.tensor([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]).view(1, 1, 2, 3)
    gt = torch.ones(1, 1, 2, 3)
    valid = torch.ones(1, 1, 2, 3, dtype=torch.bool)
    assert joint_gradient_loss(pred, gt, valid).item() == pytest.approx(math.log(2), rel=1e-6)
    valid[0, 0, :, 2] = False                           # pairs touching an invalid pixel are left out
    assert joint_gradient_loss(pred, gt, valid).item() == pytest.approx(math.log(2), rel=1e-6)
    assert joint_gradient_loss(pred * 7.0, gt * 7.0, valid).item() == pytest.approx(math.log(2), rel=1e-6)


def test_log10_column_of_the_range_tables() -> None:
    """Tables 4-7 report log10 = mean |log10 d - log10 d*|."""
    acc = DepthErrorAccumulator()
    acc.update(np.array([1.0, 10.0]), np.array([10.0, 10.0]))
    assert acc.compute()["log10"] == pytest.approx(0.5)


# --------------------------------------------------- SIGNet
def test_semantic_input_encodings_sec41() -> None:
    """One-hot (not normalised), dense centred to [-1, 1], edges of the id map; ignore ids give zeros."""
    ids = torch.tensor([[[0, 0, 1], [0, 255, 1]]])
    onehot = encode_class_maps(ids, "onehot", 2, edges=False)
    assert onehot[0, :, 0, 2].tolist() == [0.0, 1.0] and onehot[0, :, 1, 1].tolist() == [0.0, 0.0]
    dense = encode_class_maps(torch.tensor([[[0, 9, 18, 255]]]), "dense", 19, edges=False)
    assert dense[0, 0, 0].tolist() == pytest.approx([-1.0, 0.0, 1.0, 0.0])
    assert class_map_edges(ids)[0, 0].tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert encode_class_maps(ids, "onehot", 2, edges=True).shape == (1, 3, 2, 3)
    assert ModelConfig(semantic_input="onehot", semantic_input_edges=True, guide="branch").extra_input_channels == 3


def test_semantic_warp_loss_eq3_by_hand() -> None:
    """||S~_s - S_t||^2 over the class channels."""
    warped = torch.tensor([0.5, 0.5]).view(1, 2, 1, 1)
    target = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    assert semantic_warp_error(warped, target).item() == pytest.approx(0.5)
    assert one_hot(torch.tensor([[[1, 255]]]), 3)[0, :, 0].tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]


def test_masked_reconstruction_eq4_sums_the_per_class_masked_errors() -> None:
    """Eq. 4: sum over k of error(I~ * S_k, I * S_k), checked against an explicit loop; with an L1 error
    it is |I~ - I| on labelled pixels and 0 on unlabelled ones."""
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 4, 5), torch.rand(2, 3, 4, 5)
    ids = torch.randint(0, 3, (2, 4, 5))
    ids[0, 0, 0] = 255
    masks = one_hot(ids, 19)
    smooth = lambda a, b: F.avg_pool2d((a - b).abs().mean(1, keepdim=True), 3, 1, 1)  # noqa: E731
    expected = sum(smooth(pred * masks[:, k:k + 1], target * masks[:, k:k + 1]) for k in range(19))
    torch.testing.assert_close(masked_photometric_error(pred, target, masks, smooth), expected)
    l1 = lambda a, b: (a - b).abs().mean(1, keepdim=True)  # noqa: E731
    got = masked_photometric_error(pred, target, masks, l1)
    plain = (pred - target).abs().mean(1, keepdim=True)
    assert got[0, 0, 0, 0].item() == 0.0
    torch.testing.assert_close(got[1], plain[1])


def test_semantic_aware_smoothness_skips_class_boundaries() -> None:
    """Mean-normalised disparity 0.5, 1, 1.5 on a flat image: both x steps cost 0.5; the step across the
    class boundary (classes 0 0 1) is switched off: (0.5 + 0 + 0.5 + 0) / 4 = 0.25."""
    disp = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]).view(1, 1, 2, 3)
    image = torch.zeros(1, 3, 2, 3)
    classes = torch.tensor([[[0, 0, 1], [0, 0, 1]]])
    assert smoothness_loss(disp, image).item() == pytest.approx(0.5, rel=1e-6)
    assert smoothness_loss(disp, image, class_boundary_weights(classes)).item() == pytest.approx(0.25, rel=1e-6)


def test_low_light_darkening_fig6() -> None:
    """Intensity scaling (SIGNet Fig. 6: RGB x a scalar in [0, 1]), optional gamma and read noise."""
    image = np.full((2, 2, 3), 200, np.uint8)
    assert (darken(image, 0.5, noise=0.0) == 100).all()
    assert (darken(image, 0.5, noise=0.0, gamma=2.0) == round(255 * 0.5 * (200 / 255) ** 2)).all()
    noisy = darken(np.full((64, 64, 3), 100, np.uint8), 0.0, noise=5.0, rng=np.random.default_rng(1))
    assert abs(noisy.astype(float).std() - 5.0) < 0.5
    with pytest.raises(ValueError, match="darkness"):
        darken(image, 1.0)


def test_fast_masked_reconstruction_equals_the_written_out_sum() -> None:
    """SIGNet Eq. 4 with the photometric error of Eq. 2: the per-window shortcut gives the sum over
    classes of the masked images' errors (values and gradients), ignore pixels and image borders included."""
    torch.manual_seed(1)
    pred = torch.rand(2, 3, 7, 9, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 7, 9, dtype=torch.float64)
    ids = torch.randint(0, 3, (2, 7, 9))
    ids[:, 3:, 4:] = 5                                    # a uniform block: the shortcut's plain branch
    ids[0, 0, :3] = 255
    reference = masked_photometric_error(pred, target, one_hot(ids), lambda a, b: photometric_error(a, b, 0.85))
    fast = class_masked_photometric_error(pred, target, ids, 0.85)
    torch.testing.assert_close(fast, reference)
    grad_ref, = torch.autograd.grad(reference.sum(), pred)
    grad_fast, = torch.autograd.grad(fast.sum(), pred)
    torch.testing.assert_close(grad_fast, grad_ref)
