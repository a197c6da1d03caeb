"""Self-supervised depth losses (Semantic-Guided Representation Enhancement, Sec. 3 and 4.4, on the
Monodepth2 regime).

Each term is a small function of tensors so the tests can check it against a hand computation;
:func:`compute_losses` assembles them into Eq. 9 over the scales.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from semdepth_ros.geometry import disp_to_depth
from semdepth_training.variant_losses import (NUM_CLASSES, class_boundary_weights, depth_aware_loss,
                                               joint_gradient_loss, median_scaled, one_hot, semantic_warp_error)
from semdepth_training.warping import warp_image

SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
IDENTITY_NOISE = 1e-5


def ssim_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel, per-channel clamp((1 - SSIM) / 2, 0, 1) on 3x3 windows [B,C,H,W].

    Semantic-Guided Representation Enhancement, Eq. 2 / Monodepth2: mean-pooled local statistics with
    reflection padding so the output keeps the input size and the border pixels see mirrored rather
    than zero neighbours.
    The five statistics go through two stacked pad+pool calls instead of five each: the
    prediction's x, x^2, xy (which carry the gradient in training) and the target's y, y^2 (the
    backward pass pools nothing it does not need). Same numbers as pooling them one by one.
    """
    c = x.shape[1]
    mu_x, mean_xx, mean_xy = _box_mean(torch.cat([x, x * x, x * y], 1)).split(c, 1)
    mu_y, mean_yy = _box_mean(torch.cat([y, y * y], 1)).split(c, 1)
    return _ssim_from_moments(mu_x, mu_y, mean_xx, mean_yy, mean_xy)


def _ssim_from_moments(mu_x: torch.Tensor, mu_y: torch.Tensor, mean_xx: torch.Tensor, mean_yy: torch.Tensor,
                       mean_xy: torch.Tensor) -> torch.Tensor:
    """clamp((1 - SSIM) / 2, 0, 1) from the window means of x, y, x^2, y^2 and xy."""
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    num = (2 * mu_xy + SSIM_C1) * (2 * (mean_xy - mu_xy) + SSIM_C2)
    den = (mu_xx + mu_yy + SSIM_C1) * ((mean_xx - mu_xx) + (mean_yy - mu_yy) + SSIM_C2)
    return torch.clamp((1 - num / den) / 2, 0, 1)


def _box_mean(t: torch.Tensor) -> torch.Tensor:
    """3x3 mean of every channel with reflection padding, same size as the input."""
    return F.avg_pool2d(F.pad(t, (1, 1, 1, 1), mode="reflect"), 3, stride=1)


def photometric_error(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    """alpha * SSIM term + (1 - alpha) * L1, channel-averaged -> [B,1,H,W] (Semantic-Guided
    Representation Enhancement, Eq. 2)."""
    l1 = (pred - target).abs().mean(1, keepdim=True)
    ssim = ssim_distance(pred, target).mean(1, keepdim=True)
    return alpha * ssim + (1 - alpha) * l1


def class_masked_photometric_error(pred: torch.Tensor, target: torch.Tensor, classes: torch.Tensor,
                                   alpha: float = 0.85) -> torch.Tensor:
    """SIGNet Eq. 4 with the photometric error of Eq. 2: sum over classes k of the error between the
    masked images pred * S_k and target * S_k -> [B,1,H,W]; ``classes`` [B,H,W] train ids (255 = ignore).

    The same numbers as the sum written out (variant_losses.masked_photometric_error, the tests compare
    them) at a fraction of the cost: L1 adds up to |pred - target| on labelled pixels; the SSIM term
    of a pixel whose 3x3 window lies in one class is the plain SSIM term (the other classes' windows
    are all zero, distance 0), so only windows that straddle classes are evaluated class by class.
    """
    ids = torch.where((classes >= 0) & (classes < NUM_CLASSES), classes, torch.full_like(classes, -1))
    labelled = (ids >= 0)[:, None]
    l1 = (pred - target).abs().mean(1, keepdim=True) * labelled
    b, c, h, w = pred.shape
    windows = _windows(ids[:, None].float()).view(b, 9, h, w)
    uniform = (windows == windows[:, 4:5]).all(1, keepdim=True) & labelled
    ssim = ssim_distance(pred, target).mean(1, keepdim=True) * uniform
    straddle = torch.nonzero(~uniform[:, 0] & (windows >= 0).any(1), as_tuple=True)
    if straddle[0].numel():
        x = _windows(pred).view(b, c, 9, h, w).permute(0, 3, 4, 1, 2)[straddle]    # [N, C, 9]
        y = _windows(target).view(b, c, 9, h, w).permute(0, 3, 4, 1, 2)[straddle]
        window_ids = windows.permute(0, 2, 3, 1)[straddle]                          # [N, 9]
        same = (window_ids[:, :, None] == window_ids[:, None, :]).to(x.dtype)        # [N, 9 (class of m), 9]
        moments = [torch.einsum("nmj,ncj->nmc", same, t) / 9 for t in (x, y, x * x, y * y, x * y)]
        per_class = _ssim_from_moments(*moments).mean(2)                             # [N, 9]
        # each class present in the window once: position m stands for its class, shared by `count` positions
        weight = (window_ids >= 0).to(x.dtype) / same.sum(2)
        ssim = ssim.index_put((straddle[0], torch.zeros_like(straddle[0]), *straddle[1:]),
                              (per_class * weight).sum(1), accumulate=True)
    return alpha * ssim + (1 - alpha) * l1


def _windows(t: torch.Tensor) -> torch.Tensor:
    """3x3 neighbourhoods of every pixel with reflection padding (as ssim_distance): [B, C*9, H*W]."""
    return F.unfold(F.pad(t, (1, 1, 1, 1), mode="reflect"), 3)


def min_reprojection(errors: torch.Tensor) -> torch.Tensor:
    """Per-pixel minimum over source frames [B,F,H,W] -> [B,1,H,W].

    Semantic-Guided Representation Enhancement, Eq. 2 (Monodepth2): a pixel occluded in one source is
    usually visible in the other, so taking the best source instead of the mean ignores occlusion outliers.
    """
    return errors.min(1, keepdim=True)[0]


def automasked_min_reprojection(reprojection: torch.Tensor, identity: torch.Tensor,
                                noise: float = IDENTITY_NOISE) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum over warped and un-warped sources -> (error [B,1,H,W], automask [B,1,H,W] bool).

    Monodepth2 auto-masking (Semantic-Guided Representation Enhancement, Sec. 3): where an un-warped
    source already matches the target better (static camera, objects moving with the camera,
    texture-less areas) the pixel takes that error, which carries no depth gradient. The tiny noise
    breaks exact ties (e.g. saturated regions) so they do not all fall on one side. """
    if noise > 0:
        identity = identity + torch.randn_like(identity) * noise
    best_identity = min_reprojection(identity)
    best_reprojection = min_reprojection(reprojection)
    automask = best_reprojection < best_identity
    return torch.minimum(best_reprojection, best_identity), automask


def smoothness_loss(disp: torch.Tensor, image: torch.Tensor,
                    weights: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Edge-aware smoothness (Semantic-Guided Representation Enhancement, Eq. 3) of mean-normalised
    disparity [B,1,h,w], image [B,3,h,w].

    Normalising by the mean disparity (Monodepth2) stops the loss from shrinking depth scale to
    flatten the map; exp(-|dI|) lets depth edges sit on image edges. ``weights`` ([B,1,h,w-1],
    [B,1,h-1,w]) multiply the x and y terms per neighbour pair (SIGNet's semantic-aware edge
    smoothness: 0 across class boundaries, variant_losses.class_boundary_weights).
    """
    disp = disp / (disp.mean((2, 3), keepdim=True) + 1e-7)
    grad_disp_x = (disp[:, :, :, :-1] - disp[:, :, :, 1:]).abs()
    grad_disp_y = (disp[:, :, :-1, :] - disp[:, :, 1:, :]).abs()
    grad_img_x = (image[:, :, :, :-1] - image[:, :, :, 1:]).abs().mean(1, keepdim=True)
    grad_img_y = (image[:, :, :-1, :] - image[:, :, 1:, :]).abs().mean(1, keepdim=True)
    term_x, term_y = grad_disp_x * torch.exp(-grad_img_x), grad_disp_y * torch.exp(-grad_img_y)
    if weights is not None:
        term_x, term_y = term_x * weights[0], term_y * weights[1]
    return term_x.mean() + term_y.mean()


def semantic_bce(fg_prob: torch.Tensor, fg_mask: torch.Tensor, fg_valid: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the foreground probability vs pseudo labels (Semantic-Guided
    Representation Enhancement, Sec. 4.1).

    Only samples with ``fg_valid`` (a label exists) count; a batch without labels gives 0 so
    unlabelled data still trains depth. fg_prob/fg_mask [B,1,H,W], fg_valid [B].
    """
    per_pixel = F.binary_cross_entropy(fg_prob.float(), fg_mask.float(), reduction="none")
    per_sample = per_pixel.flatten(1).mean(1)
    weight = fg_valid.float().reshape(-1)
    return (per_sample * weight).sum() / weight.sum().clamp(min=1.0)


def odometry_loss(predicted: torch.Tensor, odometry: torch.Tensor, valid: torch.Tensor,
                  min_motion: float = 1e-6) -> torch.Tensor:
    """How far the pose net's translations [B,3] are from the odometry's [B,3] (same units).

    The velocity supervision of PackNet (3D Packing for Self-Supervised Monocular Depth Estimation,
    Sec. 3) penalises | |t_hat| - |v| dt | so the pose net, and through the photometric loss the depth
    net, learn metric scale; here the magnitude error is relative (|t_hat| / |t| - 1, so slow and fast
    robots weigh alike) and a direction term 1 - cos(t_hat, t) is added, since odometry also knows
    where the camera went. Samples without odometry (``valid`` 0) or that barely moved are left out;
    none left gives 0.
    """
    norm = odometry.norm(dim=1)
    keep = (valid.reshape(-1) > 0) & (norm > min_motion)
    if not bool(keep.any()):
        return predicted.new_zeros(())
    t_hat, t, norm = predicted[keep], odometry[keep], norm[keep]
    magnitude = (t_hat.norm(dim=1) / norm - 1.0).abs()
    direction = 1.0 - F.cosine_similarity(t_hat, t, dim=1, eps=1e-12)
    return (magnitude + direction).mean()


@dataclass
class LossSettings:
    """Loss hyper-parameters; defaults are Semantic-Guided Representation Enhancement / Monodepth2.

    ``mode`` picks the objective: "self_supervised" (Eq. 9, this module, plus the variant terms
    below) or "supervised", the synthetic pre-training on exact labels
    (:mod:`semdepth_training.supervised_losses`, configured by the fields from ``silog_lambda`` to
    ``self_supervised_weight``; the variant terms are self-supervised only).
    """

    scales: tuple[int, ...] = (0, 1, 2, 3)
    ssim_alpha: float = 0.85
    smoothness_weight: float = 1e-3
    semantic_weight: float = 1.0
    automask: bool = True
    min_depth: float = 0.1
    max_depth: float = 100.0
    mode: str = "self_supervised"
    silog_lambda: float = 0.85             # scale-invariant log loss; < 1 keeps depth metric
    depth_weight: float = 1.0
    sky_as_far: bool = True                # the sky is taught as max_depth (else left unsupervised)
    pose_translation_weight: float = 1.0   # per metre of L1 error
    pose_rotation_weight: float = 10.0     # per radian of L1 error
    self_supervised_weight: float = 0.0    # supervised mode: weight of Eq. 9 added to the labels' losses
    # Look Deeper into Depth (variant_losses): supervised terms, only on samples with depth_gt
    depth_aware_weight: float = 0.0        # attention-driven depth-aware loss L_DA
    joint_gradient_weight: float = 0.0     # joint gradient loss L_JG
    # SIGNet, Sec. 4.2 (variant_losses): need class maps of every frame (batches without them skip these)
    semantic_warp_weight: float = 0.0      # L_sem, the warped one-hot class maps
    masked_reconstruction: bool = False    # Eq. 4: the photometric error summed over per-class masked images
    semantic_smoothness: bool = False      # smoothness switched off across class boundaries


@dataclass
class LossResult:
    """The total to back-propagate, detached terms for logging, and full-res maps for images."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]
    depth: torch.Tensor
    automask: torch.Tensor | None
    warped: torch.Tensor


def compute_losses(inputs: dict, outputs: dict, poses: dict[int, torch.Tensor],
                   settings: LossSettings, gt_scale: float | None = None) -> LossResult:
    """Eq. 9, L = Lp + Lm + w * Ls, averaged over the scales, plus the variant terms switched on in
    ``settings`` (docs/variants.md).

    Every scale's disparity is upsampled to full resolution before warping (Monodepth2): low
    resolution warps produce holes and texture-copy artefacts. Smoothness stays at the scale's own
    resolution, weighted by 1 / 2^s. ``poses`` maps source frame id -> T (target -> source, 4x4).
    ``gt_scale`` turns network depth into the ground truth's metres for the supervised terms (the
    metric factor of known-pose training); None scales each image by its median ratio.
    Expects float32 tensors (call outside autocast: BCE is not autocast-safe).
    """
    target = inputs[("color", 0, 0)]
    height, width = target.shape[-2:]
    k, inv_k = inputs[("K", 0)], inputs[("inv_K", 0)]
    sources = sorted(poses)
    # Read (a device sync) only when a term uses the labels: the default step never waits for the device.
    uses_labels = settings.semantic_warp_weight > 0 or settings.masked_reconstruction or settings.semantic_smoothness
    labelled = uses_labels and "classes_valid" in inputs and bool(inputs["classes_valid"].all())
    warp_labels = settings.semantic_warp_weight > 0 and labelled
    onehot = {f: one_hot(inputs[("classes", f)]) for f in [0, *sources]} if warp_labels else {}

    def photometric(pred: torch.Tensor) -> torch.Tensor:
        if settings.masked_reconstruction and labelled:
            return class_masked_photometric_error(pred, target, inputs[("classes", 0)], settings.ssim_alpha)
        return photometric_error(pred, target, settings.ssim_alpha)

    identity = torch.cat([photometric(inputs[("color", f, 0)]) for f in sources], 1)
    has_semantic = ("fg", 0) in outputs
    supervised = (settings.depth_aware_weight > 0 or settings.joint_gradient_weight > 0) \
        and "depth_valid" in inputs and bool(inputs["depth_valid"].any())
    sums = {name: target.new_zeros(()) for name in _terms(settings)}
    for s in settings.scales:
        disp = outputs[("disp", s)]
        disp_full = F.interpolate(disp, (height, width), mode="bilinear", align_corners=False)
        _, depth = disp_to_depth(disp_full, settings.min_depth, settings.max_depth)
        warped_all = [warp_image(torch.cat([inputs[("color", f, 0)], onehot[f]], 1) if warp_labels
                                 else inputs[("color", f, 0)], depth, k, inv_k, poses[f]) for f in sources]
        warped = [w[:, :3] for w in warped_all]
        reprojection = torch.cat([photometric(w) for w in warped], 1)
        if settings.automask:
            error, automask = automasked_min_reprojection(reprojection, identity)
        else:
            error, automask = min_reprojection(reprojection), None
        sums["photometric"] = sums["photometric"] + error.mean()
        weights = None
        if settings.semantic_smoothness and labelled:
            weights = class_boundary_weights(_nearest(inputs[("classes", 0)], disp.shape[-2:]))
        sums["smoothness"] = sums["smoothness"] + smoothness_loss(disp, inputs[("color", 0, s)], weights) / 2 ** s
        if has_semantic:
            fg_full = F.interpolate(outputs[("fg", s)], (height, width), mode="bilinear",
                                    align_corners=False)
            sums["semantic"] = sums["semantic"] + semantic_bce(fg_full, inputs["fg_mask"],
                                                               inputs["fg_valid"])
        if warp_labels:
            labelled_px = onehot[0].sum(1, keepdim=True) > 0
            warp_error = torch.cat([semantic_warp_error(w[:, 3:], onehot[0]) for w in warped_all], 1)
            sums["semantic_warp"] = sums["semantic_warp"] + (min_reprojection(warp_error) * labelled_px).sum() \
                / labelled_px.sum().clamp(min=1)
        if supervised:
            valid = (inputs["depth_gt"] > 0) & (inputs["depth_valid"].view(-1, 1, 1, 1) > 0)
            metric = depth * gt_scale if gt_scale is not None else median_scaled(depth, inputs["depth_gt"], valid)
            sums["depth_aware"] = sums["depth_aware"] + depth_aware_loss(metric, inputs["depth_gt"], valid)
            sums["joint_gradient"] = sums["joint_gradient"] + joint_gradient_loss(metric, inputs["depth_gt"], valid)
        if s == settings.scales[0]:
            visuals = (depth.detach(), None if automask is None else automask.detach(), warped[0].detach())
    terms = {name: value / len(settings.scales) for name, value in sums.items()}
    total = (terms["photometric"] + settings.semantic_weight * terms["semantic"]
             + settings.smoothness_weight * terms["smoothness"])
    for name, weight in (("semantic_warp", settings.semantic_warp_weight),
                         ("depth_aware", settings.depth_aware_weight),
                         ("joint_gradient", settings.joint_gradient_weight)):
        if name in terms:
            total = total + weight * terms[name]
    terms = {name: value.detach() for name, value in terms.items()}
    terms["total"] = total.detach()
    return LossResult(total, terms, *visuals)


def _terms(settings: LossSettings) -> list[str]:
    """The logged terms: Eq. 9's always (semantic is 0 for a depth-only network), variants' when on."""
    names = ["photometric", "smoothness", "semantic"]
    if settings.semantic_warp_weight > 0:
        names.append("semantic_warp")
    if settings.depth_aware_weight > 0 or settings.joint_gradient_weight > 0:
        names += ["depth_aware", "joint_gradient"]
    return names


def _nearest(classes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B,H,W] ids at another size without blending ids."""
    if tuple(classes.shape[-2:]) == tuple(size):
        return classes
    return F.interpolate(classes[:, None].float(), size=size, mode="nearest")[:, 0].long()


def with_odometry_term(result: LossResult, poses: dict[int, torch.Tensor], inputs: dict, units: float,
                       weight: float) -> LossResult:
    """``result`` plus ``weight`` x :func:`odometry_loss` of the predicted target -> source transforms
    against the samples' odometry ones (("T", f), metres, times ``units`` = network units per metre),
    averaged over the source frames; the term is logged as "odometry"."""
    valid = inputs["pose_valid"]
    term = torch.stack([odometry_loss(poses[f][:, :3, 3], inputs[("T", f)][:, :3, 3] * units, valid)
                        for f in sorted(poses)]).mean()
    terms = {**result.terms, "odometry": term.detach()}
    total = result.total + weight * term
    terms["total"] = total.detach()
    return LossResult(total, terms, result.depth, result.automask, result.warped)
