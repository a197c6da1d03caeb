"""Synthetic sequences rendered on the fly: exact depth, sky, foreground labels and poses, no download.

Sequence ``i`` is rendered from seed ``seed * 1_000_003 + i``, so a dataset is reproducible from its
arguments alone. With ``fresh_worlds`` every epoch draws new streets instead (seed from (seed, epoch,
i)): the supply of labelled data never runs out, which is what pre-training needs.

Rendering, not the network, is the cost on a CPU, so the layout decides the price of a sample:

- Short sequences that span exactly ``frame_ids`` (``config.num_frames: 3`` for (0, -1, 1)) give
  one street per sample: every sample is rendered by the one DataLoader worker that loads it (no
  work is repeated across workers), nothing needs to be kept (bounded memory) and batches are as
  varied as the world is; each sample costs its 3 frames. This is the pre-training layout.
- Longer sequences share frames between neighbouring targets. Each process (main or DataLoader
  worker) keeps the newest ``cache_frames`` rendered frames, so a small dataset trained for many
  epochs renders each frame once per process; with many sequences in random order most targets miss
  the cache and cost 3 frames too. Pre-rendered drives (`semdepth synth`, read by the ``folder``
  kind) cost no rendering at all.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict

import numpy as np

from semdepth_training.datasets.base import FRAME_IDS, RawSample, SampleDataset
from semdepth_training.datasets.frame_cache import resize_image
from semdepth_synth.sequence import SynthConfig, SynthFrame, SynthSequence

DEFAULT_CACHE_FRAMES = 1024  # ~0.3 GB at 96x320, 1.1 GB at 192x640 per process
SEQUENCE_CACHE = 8           # set-up objects kept (cheap to rebuild: ~0.05 s each)


class SyntheticDataset(SampleDataset):
    """``num_sequences`` sequences of ``config.num_frames`` frames; targets are the frames with all
    ``frame_ids`` neighbours. ``config`` sets the world and render size (default: SynthConfig at
    the network size, so no resampling); its seed is replaced per sequence. ``config.realism``
    picks the basic street or the domain-randomised ones, whose camera (K) differs per sequence
    (docs/synthetic.md). Depth is the generator's z-depth; the sky (infinite depth) is depth 0 and
    class sky (RawSample.sky)."""

    def __init__(self, num_sequences: int = 2, config: SynthConfig | None = None, height: int = 192,
                 width: int = 640, frame_ids: tuple[int, ...] = FRAME_IDS, augment: bool = False,
                 seed: int = 0, reverse_time: bool = False, fresh_worlds: bool = False,
                 cache_frames: int = DEFAULT_CACHE_FRAMES) -> None:
        super().__init__(height, width, frame_ids, augment, seed, reverse_time)
        if cache_frames < 0:
            raise ValueError(f"cache_frames must be >= 0, got {cache_frames}")
        self.config = config if config is not None else SynthConfig(height=height, width=width)
        self.fresh_worlds = fresh_worlds
        self.cache_frames = cache_frames
        low, high = min(self.frame_ids), max(self.frame_ids)
        self.targets = [(seq, t) for seq in range(num_sequences)
                        for t in range(-low, self.config.num_frames - high)]
        if not self.targets:
            raise ValueError(f"{num_sequences} sequence(s) of {self.config.num_frames} frames leave no "
                             f"target with neighbours {self.frame_ids}")
        self._sequences: OrderedDict[int, SynthSequence] = OrderedDict()
        self._frames: OrderedDict[tuple[int, int], SynthFrame] = OrderedDict()

    def sequence_seed(self, seq: int) -> int:
        """The world seed of sequence ``seq`` (in the current epoch when ``fresh_worlds``)."""
        if not self.fresh_worlds:
            return self.seed * 1_000_003 + seq
        # 63 bits from (seed, epoch, seq): never one of the small fixed seeds of a validation set.
        return int(np.random.SeedSequence((self.seed, self.epoch, seq)).generate_state(1, np.uint64)[0] >> 1)

    def _sequence(self, seed: int) -> SynthSequence:
        if seed in self._sequences:
            self._sequences.move_to_end(seed)
        else:
            self._sequences[seed] = SynthSequence(dataclasses.replace(self.config, seed=seed))
            if len(self._sequences) > SEQUENCE_CACHE:
                self._sequences.popitem(last=False)
        return self._sequences[seed]

    def _frame(self, seq: int, index: int) -> SynthFrame:
        seed = self.sequence_seed(seq)
        key = (seed, index)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        frame = self._sequence(seed)[index]
        if self.cache_frames:
            self._frames[key] = frame
            while len(self._frames) > self.cache_frames:
                self._frames.popitem(last=False)
        return frame

    def __len__(self) -> int:
        return len(self.targets)

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        seq, t = self.targets[index]
        frames = {f: self._frame(seq, t + f) for f in self.frame_ids}
        target = frames[0]
        images = {f: frame.rgb for f, frame in frames.items()}
        stored = (target.rgb.shape[1], target.rgb.shape[0])
        if size is not None:
            images = {f: resize_image(image, *size) for f, image in images.items()}
        return RawSample(images=images, K=target.K, fg_mask=target.fg_mask,
                         depth=np.where(np.isfinite(target.depth), target.depth, 0.0).astype(np.float32),
                         poses={f: frame.pose for f, frame in frames.items()},
                         classes={f: frame.class_ids for f, frame in frames.items()}, image_size=stored)
