"""Loss terms of the variant papers (docs/variants.md), each a plain function of tensors so the tests
check it against hand computations; :func:`semdepth_training.losses.compute_losses` switches them on
from :class:`~semdepth_training.losses.LossSettings`.

Look Deeper into Depth (supervised: only where a sample has ground-truth depth):

- attention-driven depth-aware loss L_DA = 1/N sum_i (alpha_D + lambda_D) |d_i - d*_i| with the
  depth-aware attention alpha_D = d*_i / max(d*) (far pixels, the long tail, weigh more) and the
  regulariser lambda_D = 1 - min(log d_i, log d*_i) / max(log d_i, log d*_i) (large where the
  prediction is off, so near pixels with a small alpha_D still learn);
- joint gradient loss L_JG = 1/N sum_i |grad_x log d_i - grad_x log d*_i| + |grad_y ...| (depth edges
  where the ground truth has them).

The supplement's Sec. 5 (Table 8) evaluates these terms; the formulas are those of the paper's main
text, which the supplement does not restate. Two choices are ours: log(1 + d) in lambda_D, so the
ratio stays in [0, 1] for depths under 1 m, and both weights are constants (no gradient flows
through alpha_D or lambda_D).

SIGNet, Sec. 4.2 (need class maps of the target and source frames):

- semantic warp loss L_sem = ||S~_s - S_t||^2: one-hot class maps of a source warped into the target
  view like its image, compared with the target's;
- semantics-masked reconstruction (Eq. 4): the photometric error of Eq. 1 summed over the per-class
  masked images J^k = I * S_k;
- semantic-aware edge smoothness: the edge-aware smoothness with the weight set to 0 across class
  boundaries, i.e. a weight map M low on class boundaries and high elsewhere. SIGNet's printed Eq. 5
  applies M to the reconstruction term instead; we follow the text around it, which motivates M as
  an edge map for the smoothness loss ("Equation 2 uses RGB to infer edge locations when enforcing
  smooth regions of depth. This could be improved by including an edge map computed from semantic
  predictions").
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS

NUM_CLASSES = len(CITYSCAPES_TRAIN_IDS)
EPS = 1e-7


# ------------------------------------------------------------------ Look Deeper into Depth
def depth_aware_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """L_DA over the valid pixels of each image, averaged over images with any; pred/gt [B,1,H,W]
    metres (pred already at the ground truth's scale), valid [B,1,H,W] bool."""
    gt = torch.where(valid, gt, torch.zeros_like(gt))
    alpha = gt / gt.flatten(1).amax(1).clamp(min=EPS).view(-1, 1, 1, 1)
    log_pred, log_gt = torch.log1p(pred.detach().clamp(min=0)), torch.log1p(gt)
    lam = 1 - torch.minimum(log_pred, log_gt) / torch.maximum(log_pred, log_gt).clamp(min=EPS)
    per_pixel = (alpha + lam).detach() * (pred - gt).abs()
    return _masked_image_mean(per_pixel, valid)


def joint_gradient_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """L_JG on log depth over neighbour pairs whose two pixels are valid; [B,1,H,W] inputs."""
    log_pred = torch.log(pred.clamp(min=EPS))
    log_gt = torch.log(torch.where(valid, gt, torch.ones_like(gt)))
    terms = []
    for dim in (3, 2):
        n = pred.shape[dim]
        pair = valid.narrow(dim, 1, n - 1) & valid.narrow(dim, 0, n - 1)
        diff = (log_pred.diff(dim=dim) - log_gt.diff(dim=dim)).abs()
        terms.append(_masked_image_mean(diff, pair))
    return terms[0] + terms[1]


def _masked_image_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each image's masked pixels, then over the images that have any (0 when none has)."""
    counts = mask.flatten(1).sum(1)
    sums = torch.where(mask, values, torch.zeros_like(values)).flatten(1).sum(1)
    has = counts > 0
    return (sums[has] / counts[has]).mean() if bool(has.any()) else values.sum() * 0


def median_scaled(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``pred`` times its per-image median ratio gt / pred over valid pixels (a constant), for
    networks whose depth has no metric scale (pose network training)."""
    ratios = []
    for p, g, v in zip(pred, gt, valid):
        ratios.append(g[v].median() / p[v].detach().median().clamp(min=EPS) if bool(v.any()) else p.new_ones(()))
    return pred * torch.stack(ratios).view(-1, 1, 1, 1)


# ------------------------------------------------------------------ SIGNet
def one_hot(classes: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """[B,H,W] ids -> [B,K,H,W] float; ids outside 0..K-1 (255 = ignore) give all zeros."""
    return (classes[:, None] == torch.arange(num_classes, device=classes.device).view(1, -1, 1, 1)).float()


def semantic_warp_error(warped: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||S~_s - S_t||^2 per pixel over the class channels: [B,K,H,W] x2 -> [B,1,H,W]."""
    return (warped - target).square().sum(1, keepdim=True)


def masked_photometric_error(pred: torch.Tensor, target: torch.Tensor, onehot: torch.Tensor,
                             error: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """SIGNet Eq. 4: sum over classes k of error(I~ * S_k, I * S_k) -> [B,1,H,W]; ``onehot`` [B,K,H,W]
    are the target's class masks (applied to both images), ``error`` the photometric error of Eq. 1.
    Only classes present in the batch are evaluated (an absent class contributes error(0, 0) = 0)."""
    present = torch.nonzero(onehot.flatten(2).amax((0, 2)) > 0).flatten().tolist()
    b = pred.shape[0]
    if not present:
        return pred.new_zeros(b, 1, *pred.shape[2:])
    masks = torch.cat([onehot[:, k:k + 1] for k in present], 0)          # [K'B,1,H,W], class-major
    errors = error(pred.repeat(len(present), 1, 1, 1) * masks, target.repeat(len(present), 1, 1, 1) * masks)
    return errors.view(len(present), b, *errors.shape[1:]).sum(0)


def class_boundary_weights(classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """M of the semantic-aware edge smoothness for the x and y neighbour pairs of [B,H,W] ids: 0 where
    the two pixels' classes differ, else 1 -> ([B,1,H,W-1], [B,1,H-1,W]) float (the weights of
    losses.smoothness_loss)."""
    ids = classes[:, None]
    return ((ids[..., :, 1:] == ids[..., :, :-1]).float(), (ids[..., 1:, :] == ids[..., :-1, :]).float())
