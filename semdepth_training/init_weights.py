"""Start a run from a checkpoint's weights (`--init PATH`, config ``run.init``).

The usual source is the synthetic pre-training (`semdepth pretrain`, the ImageNet substitute): it
gives the encoder, both decoders and the pose net. Any checkpoint of the same architecture works;
one without a pose net (e.g. an exported model) initialises the depth network alone. Only the
weights are taken: optimiser, schedule and step start afresh, as when starting from ImageNet.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semdepth_ros.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, load_pose_net
from semdepth_ros.model import ModelConfig, PoseNet, SemDepthNet
from semdepth_training.config import TrainConfig


@dataclass
class InitWeights:
    """A checkpoint read for initialisation: the network, its metadata and its pose net (or None)."""

    path: Path
    model: SemDepthNet
    meta: CheckpointMeta
    pose_net: PoseNet | None

    @classmethod
    def read(cls, path: str | Path) -> "InitWeights":
        model, meta = load_checkpoint(path)
        return cls(Path(path), model, meta, load_pose_net(path))

    def translation_scale(self) -> float | None:
        """The unit of the stored pose net's translation (None without a pose net)."""
        return None if self.pose_net is None else self.pose_net.decoder.translation_scale

    def apply(self, model: SemDepthNet, pose_net: PoseNet, config: TrainConfig,
              say: Callable[[str], None] = print) -> dict[str, Any]:
        """Copy the weights into a run's networks after checking they are the same architecture and
        depth range (one clear line otherwise); returns what was loaded, for the run's provenance.
        The pose net is loaded when the run trains one (``pose.source: network``); ``say`` prints
        notes (the trainer's: rank 0 only)."""
        ours, theirs = model.state_dict(), self.model.state_dict()
        if {k: v.shape for k, v in ours.items()} != {k: v.shape for k, v in theirs.items()}:
            differences = "; ".join(_differences(self.meta.model_config, config.model)) or "other tensors"
            raise CheckpointError(f"--init {self.path}: another architecture than this run's model config "
                                  f"({differences}); set model.* to match the checkpoint or choose a "
                                  "checkpoint of this architecture")
        stored_range = (self.meta.min_depth, self.meta.max_depth)
        if (config.loss.min_depth, config.loss.max_depth) != stored_range:
            raise CheckpointError(f"--init {self.path}: its disparity maps to depth {stored_range}, this run's "
                                  f"loss.min_depth/max_depth give {(config.loss.min_depth, config.loss.max_depth)}; "
                                  "set them to match")
        model.load_state_dict(theirs)
        loaded_pose = config.pose.source == "network" and self.pose_net is not None
        if loaded_pose:
            if pose_net.config() != self.pose_net.config():
                raise CheckpointError(f"--init {self.path}: its pose net is {self.pose_net.config()}, this run's "
                                      f"is {pose_net.config()}; set pose.num_layers / pose.translation_scale to match")
            pose_net.load_state_dict(self.pose_net.state_dict())
        if config.pose.source == "dataset" and self.meta.scale_factor == 1.0 and config.pose.dataset_scale != 1.0 \
                and self.meta.scale_source != "none":
            say(f"note: --init {self.path} predicts metres, but pose.dataset_scale {config.pose.dataset_scale} "
                "divides the dataset's motion; set pose.dataset_scale=1 to keep the depth metric")
        return {"path": str(self.path.resolve()), "pose_net": loaded_pose,
                "stage": self.meta.provenance.get("stage"), "step": self.meta.training.get("step"),
                "provenance": self.meta.provenance}


def _differences(stored: ModelConfig, wanted: ModelConfig) -> list[str]:
    """'field: checkpoint X, run Y' for each model field that differs (the ImageNet path aside)."""
    a = dataclasses.asdict(dataclasses.replace(stored, pretrained_path=None))
    b = dataclasses.asdict(dataclasses.replace(wanted, pretrained_path=None))
    return [f"model.{k}: checkpoint {a[k]!r}, run {b[k]!r}" for k in a if a[k] != b[k]]
