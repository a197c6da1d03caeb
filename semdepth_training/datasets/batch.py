"""From what the loader workers return to what the networks and losses read, on any device.

The workers only decode (or read from the frame cache), resize to the training size and draw the
augmentation parameters; the per-pixel work (flip, float conversion, the image pyramid, colour jitter)
runs here, batched, where the batch is: on the GPU after upload in training (``data.augment_on``
"device", the default on CUDA), or in the workers ("loader", the default on the CPU). Both give the
same numbers as the per-sample CPU path this replaced (test/test_train_speed.py).

A compact sample (:func:`semdepth_training.datasets.base.compact_sample`) holds ``("image", f)``
[3,H,W] uint8 at the training size, not flipped; ``"flip"`` (bool) and ``"jitter"`` (float64
[JITTER_SIZE], :func:`semdepth_training.datasets.augment.jitter_vector`); ``("classes", f)`` [H,W] uint8
train ids (int64 once expanded); everything else (K, labels, poses) already as the sample dict of
docs/interfaces.md, flipped where the sample is.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from semdepth_training.datasets.augment import jitter_batch, upload

NUM_SCALES = 4
COMPACT_KEYS = ("flip", "jitter")

Sample = dict[Any, Any]


def is_compact(batch: Sample) -> bool:
    return "jitter" in batch


def expand_batch(batch: Sample, device: torch.device | str | None = None) -> Sample:
    """A collated batch of compact samples -> the sample dict on ``device`` (default: where it is).

    ``("color", f, s)`` [B,3,H/2^s,W/2^s] float32 in [0, 1] for s = 0..3: scale 0 is the image
    (mirrored where ``flip``), scales 1-3 its 2^s x 2^s area means (the area resampling that
    cv2.INTER_AREA does for integer factors, without its rounding to uint8); ``("color_aug", f, 0)``
    the jittered scale 0, with one set of parameters per sample for all its frames: the only jittered
    image any network reads. ``("classes", f)`` become int64; every other tensor is moved to ``device``
    as it is.
    """
    device = torch.device(device) if device is not None else batch["jitter"].device
    frames = sorted(key[1] for key in batch if isinstance(key, tuple) and key[0] == "image")
    out: Sample = {k: upload(v, device) if torch.is_tensor(v) else v for k, v in batch.items()
                   if k not in COMPACT_KEYS and not (isinstance(k, tuple) and k[0] == "image")}
    for key in [k for k in out if isinstance(k, tuple) and k[0] == "classes"]:
        out[key] = out[key].long()  # uint8 train ids travel small; the losses index with int64
    count = len(batch["jitter"])
    # All frames as one [F*B] batch: one pass of each op instead of one per frame.
    images = torch.cat([upload(batch[("image", f)], device) for f in frames])
    flip = batch["flip"].to("cpu", torch.bool)
    if bool(flip.any()):
        mirror = upload(flip.repeat(len(frames)).view(-1, 1, 1, 1), device)
        images = torch.where(mirror, images.flip(-1), images)
    color = images.float().div_(255.0)
    pyramid = [color] + [F.avg_pool2d(color, 2 ** s) for s in range(1, NUM_SCALES)]
    jittered = jitter_batch(color, batch["jitter"].repeat(len(frames), 1))
    for i, f in enumerate(frames):
        rows = slice(i * count, (i + 1) * count)
        for s, level in enumerate(pyramid):
            out[("color", f, s)] = level[rows]
        out[("color_aug", f, 0)] = jittered[rows]
    return out


def expand_sample(sample: Sample) -> Sample:
    """:func:`expand_batch` of one compact sample, as a sample (no batch dimension), on the CPU."""
    batch = expand_batch(default_collate([sample]))
    return {k: v.squeeze(0) if torch.is_tensor(v) else v[0] for k, v in batch.items()}


def collate_expanded(samples: list[Sample]) -> Sample:
    """DataLoader ``collate_fn`` of the CPU path (``data.augment_on: loader``): the workers return
    expanded batches, as before the device path existed."""
    return expand_batch(default_collate(samples))
