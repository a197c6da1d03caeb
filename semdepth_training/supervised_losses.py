"""Supervised losses for synthetic pre-training (``loss.mode: supervised``): the synthetic world's
exact depth, foreground labels and camera motion teach what ImageNet weights would otherwise bring.

Depth is learnt in metres (1 unit = 1 m) with a scale-invariant log loss whose lambda < 1 keeps the
absolute scale anchored, the foreground with the binary cross-entropy of the self-supervised regime,
and the pose net with L1 on the exact relative pose, its translation in metres too, so the
self-supervised fine-tune starts from depth and motion in one consistent metric unit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from semdepth_ros.geometry import disp_to_depth
from semdepth_training.losses import LossResult, LossSettings, compute_losses, semantic_bce
from semdepth_training.warping import warp_image

MODES = ("self_supervised", "supervised")


def scale_invariant_log_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                             lam: float) -> torch.Tensor:
    """Eigen, Puhrsch & Fergus, "Depth Map Prediction from a Single Image using a Multi-Scale Deep
    Network" (NeurIPS 2014), Eq. 4: (1/n) sum_i d_i^2 - (lambda/n^2) (sum_i d_i)^2 with
    d_i = log pred_i - log target_i over the n valid pixels of one image; the mean over the images
    that have any valid pixel (0 when none has).

    lambda = 0 is the plain log-L2 loss, lambda = 1 ignores the global scale entirely; in between (the
    paper trains with 0.5, Lee et al., "From Big to Small" (2019), Sec. 3.4, with 0.85) it mostly
    rewards relative depth while still pinning the scale. pred/target/valid [B,1,H,W]; pred and target
    positive wherever valid.
    """
    valid = valid.float()
    safe = valid > 0
    d = torch.where(safe, torch.log(torch.where(safe, pred, 1.0)) - torch.log(torch.where(safe, target, 1.0)),
                    torch.zeros_like(pred))
    n = valid.flatten(1).sum(1)
    has = n > 0
    n = n.clamp(min=1.0)
    per_image = (d * d).flatten(1).sum(1) / n - lam * (d.flatten(1).sum(1) / n) ** 2
    return (per_image * has).sum() / has.sum().clamp(min=1)


def depth_target(depth_gt: torch.Tensor, sky_mask: torch.Tensor, min_depth: float, max_depth: float,
                 sky_as_far: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(target depth, valid mask) for the network's range [min_depth, max_depth].

    Labelled depth is clipped into the range; with ``sky_as_far`` the sky (infinitely far) is taught
    as ``max_depth``: without a label the sky of a real image can come out at any depth, and the
    self-supervised losses cannot correct it (a textureless sky is auto-masked), so a point cloud
    would get a dome of false points over the robot.
    """
    sky = sky_mask > 0 if sky_as_far else torch.zeros_like(sky_mask, dtype=torch.bool)
    valid = (depth_gt > 0) | sky
    target = torch.where(sky, torch.full_like(depth_gt, max_depth), depth_gt).clamp(min_depth, max_depth)
    return target, valid


def rotation_error_vector(rotation: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """sin(angle) * axis of the rotation ``rotation @ truth^T`` [B,3], from 3x3 matrices [B,3,3].

    The vee of its antisymmetric part: to first order the axis-angle difference in radians (per-frame
    rotations are a few degrees), smooth everywhere, unlike arccos of the trace at zero error.
    """
    error = rotation @ truth.transpose(1, 2)
    skew = (error - error.transpose(1, 2)) / 2
    return torch.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], 1)


def pose_l1(predicted: torch.Tensor, truth: torch.Tensor,
            weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(translation, rotation) L1 between predicted and true rigid transforms [B,4,4]: the mean
    absolute error of the translation components (metres) and of :func:`rotation_error_vector`
    (radians), over the samples with ``weight`` [B] (e.g. pose_valid)."""
    weight = weight.float().reshape(-1)
    total = weight.sum().clamp(min=1.0)
    translation = (predicted[:, :3, 3] - truth[:, :3, 3]).abs().mean(1)
    rotation = rotation_error_vector(predicted[:, :3, :3], truth[:, :3, :3]).abs().mean(1)
    return (translation * weight).sum() / total, (rotation * weight).sum() / total


def compute_supervised_losses(inputs: dict, outputs: dict, poses: dict[int, torch.Tensor],
                              settings: LossSettings) -> LossResult:
    """L = w_d L_depth + w_s L_fg + w_t L_t + w_r L_r (+ w_p Eq. 9 of the self-supervised regime).

    Every scale's disparity is upsampled to full resolution (as the self-supervised loss does, after
    Monodepth2) and scored against the full-resolution label; terms are averaged over scales and, for
    the pose, over source frames. ``poses``: source id -> predicted T (target -> source), compared with
    the dataset's ("T", f). Float32 tensors, outside autocast.
    """
    target_image = inputs[("color", 0, 0)]
    height, width = target_image.shape[-2:]
    target, valid = depth_target(inputs["depth_gt"], inputs["sky_mask"], settings.min_depth,
                                 settings.max_depth, settings.sky_as_far)
    valid = valid & (inputs["depth_valid"].reshape(-1, 1, 1, 1) > 0)
    zero = target_image.new_zeros(())
    terms = {"depth": zero, "semantic": zero, "translation": zero, "rotation": zero}
    for s in settings.scales:
        disp = F.interpolate(outputs[("disp", s)], (height, width), mode="bilinear", align_corners=False)
        _, depth = disp_to_depth(disp, settings.min_depth, settings.max_depth)
        terms["depth"] = terms["depth"] + scale_invariant_log_loss(depth, target, valid, settings.silog_lambda)
        if ("fg", s) in outputs:
            fg = F.interpolate(outputs[("fg", s)], (height, width), mode="bilinear", align_corners=False)
            terms["semantic"] = terms["semantic"] + semantic_bce(fg, inputs["fg_mask"], inputs["fg_valid"])
        if s == settings.scales[0]:
            full_depth = depth
    terms = {name: value / len(settings.scales) for name, value in terms.items()}
    for f, predicted in poses.items():
        translation, rotation = pose_l1(predicted, inputs[("T", f)], inputs["pose_valid"])
        terms["translation"] = terms["translation"] + translation / len(poses)
        terms["rotation"] = terms["rotation"] + rotation / len(poses)
    total = (settings.depth_weight * terms["depth"] + settings.semantic_weight * terms["semantic"]
             + settings.pose_translation_weight * terms["translation"]
             + settings.pose_rotation_weight * terms["rotation"])
    source = min(poses)
    if settings.self_supervised_weight > 0:
        self_supervised = compute_losses(inputs, outputs, poses, settings)
        total = total + settings.self_supervised_weight * self_supervised.total
        terms.update({f"self_supervised_{k}": v for k, v in self_supervised.terms.items()})
        automask, warped = self_supervised.automask, self_supervised.warped
    else:
        automask = None
        with torch.no_grad():  # for the TensorBoard image only
            warped = warp_image(inputs[("color", source, 0)], full_depth, inputs[("K", 0)], inputs[("inv_K", 0)],
                                poses[source])
    terms = {name: value.detach() for name, value in terms.items()}
    terms["total"] = total.detach()
    return LossResult(total, terms, full_depth.detach(), automask, warped.detach())


def compute_objective(inputs: dict, outputs: dict, poses: dict[int, torch.Tensor], settings: LossSettings,
                      metric_scale: float | None = None) -> LossResult:
    """The training objective ``settings.mode`` selects: the self-supervised Eq. 9 (with its variant
    terms; ``metric_scale``: network depth -> the ground truth's metres for their supervised terms,
    None scales per image by the median) or pre-training, whose depth is metres already."""
    if settings.mode == "supervised":
        return compute_supervised_losses(inputs, outputs, poses, settings)
    return compute_losses(inputs, outputs, poses, settings, metric_scale)
