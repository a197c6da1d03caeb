"""Synthetic sequences rendered on the fly: exact depth and foreground labels with no download.

Sequence ``i`` is rendered from seed ``seed * 1_000_003 + i``, so a dataset is reproducible from its
arguments alone. Frames are rendered when first needed and kept in memory per sequence (each target
shares its frames with its neighbours'); DataLoader workers each hold their own cache.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from semdepth_training.datasets.base import FRAME_IDS, RawSample, SampleDataset
from semdepth_training.datasets.frame_cache import resize_image
from semdepth_synth.sequence import SynthConfig, SynthFrame, SynthSequence


class SyntheticDataset(SampleDataset):
    """``num_sequences`` sequences of ``config.num_frames`` frames; targets are the frames with all
    ``frame_ids`` neighbours. ``config`` sets the world and render size (default: SynthConfig at
    the network size, so no resampling); its seed is replaced per sequence. ``config.realism``
    picks the basic street or the domain-randomised ones, whose camera (K) differs per sequence
    (docs/synthetic.md)."""

    def __init__(self, num_sequences: int = 2, config: SynthConfig | None = None, height: int = 192,
                 width: int = 640, frame_ids: tuple[int, ...] = FRAME_IDS, augment: bool = False,
                 seed: int = 0) -> None:
        super().__init__(height, width, frame_ids, augment, seed)
        self.config = config if config is not None else SynthConfig(height=height, width=width)
        low, high = min(self.frame_ids), max(self.frame_ids)
        self.targets = [(seq, t) for seq in range(num_sequences)
                        for t in range(-low, self.config.num_frames - high)]
        if not self.targets:
            raise ValueError(f"{num_sequences} sequence(s) of {self.config.num_frames} frames leave no "
                             f"target with neighbours {self.frame_ids}")
        self._sequences: dict[int, SynthSequence] = {}
        self._frames: dict[int, dict[int, SynthFrame]] = {}

    def _frame(self, seq: int, index: int) -> SynthFrame:
        if seq not in self._sequences:
            config = dataclasses.replace(self.config, seed=self.seed * 1_000_003 + seq)
            self._sequences[seq] = SynthSequence(config)
            self._frames[seq] = {}
        frames = self._frames[seq]
        if index not in frames:
            frames[index] = self._sequences[seq][index]
        return frames[index]

    def __len__(self) -> int:
        return len(self.targets)

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        seq, t = self.targets[index]
        target = self._frame(seq, t)
        depth = np.where(np.isfinite(target.depth), target.depth, 0.0).astype(np.float32)  # sky: invalid
        images = {f: self._frame(seq, t + f).rgb for f in self.frame_ids}
        stored = (target.rgb.shape[1], target.rgb.shape[0])
        if size is not None:
            images = {f: resize_image(image, *size) for f, image in images.items()}
        return RawSample(images=images, K=target.K, fg_mask=target.fg_mask, depth=depth,
                         poses={f: self._frame(seq, t + f).pose for f in self.frame_ids},
                         classes={f: self._frame(seq, t + f).class_ids for f in self.frame_ids}, image_size=stored)
