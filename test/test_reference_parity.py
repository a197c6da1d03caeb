"""Parity with the public Monodepth2 code (Godard et al., "Digging Into Self-Supervised Monocular Depth
Estimation", ICCV 2019), on which the training regime is built: the pose matrix convention, the total
loss (Sec. 3: 0.85 SSIM + 0.15 L1, per-pixel minimum reprojection, auto-masking, edge-aware smoothness
of mean-normalised disparity, 4 scales upsampled) and its gradients with respect to both networks'
outputs on a fixed batch.

How the expected values were obtained: nianticlabs/monodepth2 at commit b676244e5a1c, run from a
scratch checkout (never part of this repository) in float64 on the batch built by ``_batch`` below:
``layers.transformation_from_parameters`` for the matrices; ``Trainer.generate_images_pred`` then
``Trainer.compute_losses`` for the loss, followed by ``backward()`` for the gradients. Two changes to
the reference for these numbers: its auto-mask tie-breaking noise (1e-5 * randn) set to zero, and its
``Project3D`` pixel normalisation, ``(u / (W - 1) - 0.5) * 2``, which together with the
``align_corners=False`` of its ``grid_sample`` call samples up to half a pixel off, replaced by the
matching ``(u + 0.5) / W * 2 - 1`` that this code uses. Unchanged, the reference gives 0.0645758
instead of 0.0621501 on this batch. (In float64 this code reproduces the gradients below to 1e-16;
the tolerances here cover float32.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from semdepth_ros.geometry import pose_vec_to_matrix
from semdepth_training.losses import LossSettings, compute_losses

B, H, W = 2, 32, 64

REF_T = [[0.9993500755625656, -0.03009290812995208, -0.0198452985212252, 0.1],
         [0.02989293253111252, 0.9995000572616952, -0.010297603508436769, -0.2],
         [0.020145261919484535, 0.009697676711918098, 0.9997500267602447, 0.5],
         [0.0, 0.0, 0.0, 1.0]]
REF_T_INV = [[0.9993500755625656, 0.02989293253111252, 0.020145261919484535, -0.10402905200977633],
             [-0.03009290812995208, 0.9995000572616952, 0.009697676711918098, 0.19806046390937518],
             [-0.0198452985212252, -0.010297603508436769, 0.9997500267602447, -0.4999500042296872],
             [0.0, 0.0, 0.0, 1.0]]
REF_LOSS = 0.06215007354210624
REF_LOSS_PER_SCALE = (0.06189266329180634, 0.062039237155049005, 0.06228361570728575, 0.06238477801428388)
REF_GRAD_AXISANGLE = {-1: [[[-0.009469828991019419, 0.035586080165959724, -0.00829080594488576]],
                           [[-0.3396859134613042, 1.1757339476791242, -0.0015511256843622706]]],
                      1: [[[-0.08660799160170168, 0.42363661128585933, 0.044493789259541124]],
                          [[-0.002850541924057306, 0.009581341571558504, 0.00403203988673508]]]}
REF_GRAD_TRANSLATION = {-1: [[[0.04695940330020345, 0.0007796516730608119, -0.037787134947331456]],
                             [[0.7776360834738312, 0.19221476679336374, 0.37399918040320856]]],
                        1: [[[0.15792491048601254, -0.027736501014539165, -0.009235690806243941]],
                            [[-0.009563377788739294, -0.012899405681839702, 0.0274555081136549]]]}
REF_GRAD_DISP0_SUM = -0.019240007747558803
REF_GRAD_DISP0_AT = {(0, 5, 7): -4.6707999050469605e-08, (1, 20, 40): -4.6400269037964795e-05,
                     (0, 31, 63): 1.0066339807776172e-06}


def _batch() -> tuple[dict, dict[int, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Smooth textured frames shifted sideways, a disparity that grows towards the bottom, two poses."""
    v = torch.arange(H, dtype=torch.float64).view(1, 1, H, 1)
    u = torch.arange(W, dtype=torch.float64).view(1, 1, 1, W)
    b = torch.arange(B, dtype=torch.float64).view(B, 1, 1, 1)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    inputs = {}
    for frame, shift in ((0, 0.0), (-1, -1.5), (1, 1.7)):
        full = 0.5 + 0.25 * torch.sin(0.37 * (u + shift) + 0.23 * v + 1.3 * c + b) \
            * torch.cos(0.11 * v - 0.19 * (u + shift) + c)
        for s in range(4):
            inputs[("color", frame, s)] = (full if s == 0 else F.avg_pool2d(full, 2 ** s)).float()
    k = torch.tensor([[0.58 * W, 0, 0.5 * W, 0], [0, 1.92 * H, 0.5 * H, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
                     dtype=torch.float64).expand(B, 4, 4)
    inputs[("K", 0)], inputs[("inv_K", 0)] = k.float(), torch.linalg.inv(k).float()
    disps = {}
    for s in range(4):
        h, w = H // 2 ** s, W // 2 ** s
        rows = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1) / h
        cols = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w) / w
        disps[s] = (0.02 + 0.3 * rows ** 2 + 0.05 * torch.sin(6.0 * cols + b)).float()
    axisangle = torch.tensor([[[0.004, -0.01, 0.002]], [[-0.003, 0.006, 0.001]]])
    translation = torch.tensor([[[0.01, -0.004, 0.05]], [[-0.02, 0.003, 0.04]]])
    return inputs, disps, axisangle, translation


def test_pose_matrix_and_its_inverse_follow_monodepth2():
    axisangle, translation = torch.tensor([[[0.01, -0.02, 0.03]]]), torch.tensor([[[0.1, -0.2, 0.5]]])
    torch.testing.assert_close(pose_vec_to_matrix(axisangle, translation)[0], torch.tensor(REF_T),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(pose_vec_to_matrix(axisangle, translation, invert=True)[0],
                               torch.tensor(REF_T_INV), atol=1e-6, rtol=0)


def _pose_inputs(axisangle: torch.Tensor, translation: torch.Tensor) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The pose-net outputs of the two pairs (leaves, for gradients); frame -1 is inverted (Monodepth2)."""
    return {-1: (axisangle.flip(0).clone().requires_grad_(True), (0.5 * translation).clone().requires_grad_(True)),
            1: (axisangle.clone().requires_grad_(True), translation.clone().requires_grad_(True))}


def test_total_loss_and_its_gradients_match_monodepth2():
    inputs, disps, axisangle, translation = _batch()
    pose = _pose_inputs(axisangle, translation)
    poses = {f: pose_vec_to_matrix(a, t, invert=f < 0) for f, (a, t) in pose.items()}
    disp0 = disps[0].clone().requires_grad_(True)
    outputs = {("disp", s): disp0 if s == 0 else disps[s] for s in range(4)}
    torch.manual_seed(0)  # auto-mask tie noise (1e-5): far below the tolerances
    result = compute_losses(inputs, outputs, poses, LossSettings())
    result.total.backward()
    assert abs(result.total.item() - REF_LOSS) < 1e-6, result.total.item()
    for f in (-1, 1):
        torch.testing.assert_close(pose[f][0].grad, torch.tensor(REF_GRAD_AXISANGLE[f]), atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(pose[f][1].grad, torch.tensor(REF_GRAD_TRANSLATION[f]), atol=1e-3, rtol=1e-3)
    assert abs(disp0.grad.sum().item() - REF_GRAD_DISP0_SUM) < 2e-3 * abs(REF_GRAD_DISP0_SUM)
    for (i, y, x), expected in REF_GRAD_DISP0_AT.items():
        assert abs(disp0.grad[i, 0, y, x].item() - expected) <= 1e-3 * abs(expected) + 1e-10, (i, y, x)


def test_each_scale_matches_monodepth2():
    """Reference loss/s = min-reprojection mean + 1e-3 * smoothness / 2^s at scale s."""
    inputs, disps, axisangle, translation = _batch()
    poses = {f: pose_vec_to_matrix(a, t, invert=f < 0) for f, (a, t) in _pose_inputs(axisangle, translation).items()}
    outputs = {("disp", s): disps[s] for s in range(4)}
    for s, expected in enumerate(REF_LOSS_PER_SCALE):
        torch.manual_seed(0)
        terms = compute_losses(inputs, outputs, poses, LossSettings(scales=(s,))).terms
        assert abs(terms["total"].item() - expected) < 1e-6, (s, terms["total"].item(), expected)
