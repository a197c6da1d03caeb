"""Architecture switches for SemDepthNet, validated up front so a bad combination fails with one sentence."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS

SUPPORTED_LAYERS = (18, 50)
GUIDES = ("none", "branch", "torchscript")          # the frozen semantic network (model/guide.py)
SEMANTIC_INPUTS = ("none", "onehot", "dense")      # SIGNet, Sec. 4.1 class-map encodings
INPUT_CLASS_SETS = ("foreground", "cityscapes")     # 2 classes (fg/bg) or the 19 Cityscapes train ids


@dataclasses.dataclass
class ModelConfig:
    """What SemDepthNet is built from. Defaults are those of Semantic-Guided Representation Enhancement (ResNet-50,
    Sec. 4, App. A.2)."""

    num_layers: int = 50
    semantic: bool = True
    seem: bool = True
    attention: bool = True
    seem_points: int = 3000  # N, App. A.2
    seem_edge_ratio: float = 0.4  # mu, App. A.2 (mu*N edge points, as many disturbed, the rest random)
    seem_disturb: int = 3  # c, App. A.2 Table 5
    seem_reference_pixels: int = 192 * 640  # N is given for this many pixels and scaled with H*W
    # Channel multiplier for encoder and decoders (1.0 = the paper). < 1 gives the small, fast
    # variants used for CPU training and the bundled model; it rules out ImageNet weights.
    width: float = 1.0
    pretrained_path: str | None = None  # torchvision ResNet state_dict; checkpoints store None
    # --- variants of the other papers (docs/variants.md); all off = the network above ---
    # A frozen semantic network inside the model: "branch" = encoder + semantic decoder of a checkpoint
    # of this project (weights travel in the checkpoint; guide_path only seeds them for training),
    # "torchscript" = a user segmentation model (guide_path needed wherever the model is built).
    guide: str = "none"
    guide_path: str | None = None
    guide_layers: int = 18          # "branch": the guide checkpoint's num_layers and width
    guide_width: float = 1.0
    # Semantically-Guided Representation Learning, Sec. 4.1: pixel-adaptive convolutions in the
    # depth decoder's upconv layers, guided by the frozen network's features (needs a guide).
    pac: bool = False
    pac_feature_channels: int = 16  # D of the processed guide features f (Eq. 5)
    # Look Deeper into Depth, Table 3: lateral sharing units between the depth and semantic decoders.
    lateral_sharing: bool = False
    # SIGNet, Sec. 4.1: class maps (and their edges) concatenated to RGB at the encoder input.
    semantic_input: str = "none"
    semantic_input_classes: str = "foreground"
    semantic_input_edges: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.num_layers, bool) or self.num_layers not in SUPPORTED_LAYERS:
            raise ValueError(f"num_layers must be one of {SUPPORTED_LAYERS}, not {self.num_layers!r}")
        for name in ("semantic", "seem", "attention"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        for name in ("seem", "attention"):
            if getattr(self, name) and not self.semantic:
                raise ValueError(f"{name}=True needs semantic=True (it is driven by the semantic branch)")
        for name in ("seem_points", "seem_reference_pixels"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, not {getattr(self, name)!r}")
        if not _is_int(self.seem_disturb) or self.seem_disturb < 0:
            raise ValueError(f"seem_disturb must be a non-negative integer, not {self.seem_disturb!r}")
        ratio = self.seem_edge_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 0.5:
            raise ValueError(f"seem_edge_ratio must be in [0, 0.5] (2*mu*N points are edge-based), "
                             f"not {ratio!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) \
                or not 0.125 <= self.width <= 1.0:
            raise ValueError(f"width must be in [0.125, 1.0], not {self.width!r}")
        if self.width != 1.0 and self.pretrained_path is not None:
            raise ValueError("ImageNet weights (pretrained_path) need width 1.0")
        self._check_variants()
        if isinstance(self.pretrained_path, os.PathLike):
            self.pretrained_path = os.fspath(self.pretrained_path)
        if self.pretrained_path is not None and not isinstance(self.pretrained_path, str):
            raise ValueError(f"pretrained_path must be a file path or None, not {self.pretrained_path!r}")

    def _check_variants(self) -> None:
        for name, allowed in (("guide", GUIDES), ("semantic_input", SEMANTIC_INPUTS),
                              ("semantic_input_classes", INPUT_CLASS_SETS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("pac", "lateral_sharing", "semantic_input_edges"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if isinstance(self.guide_path, os.PathLike):
            self.guide_path = os.fspath(self.guide_path)
        if self.guide == "torchscript" and not self.guide_path:
            raise ValueError("guide 'torchscript' needs guide_path (the TorchScript segmentation model file)")
        if self.guide_layers not in SUPPORTED_LAYERS or isinstance(self.guide_layers, bool):
            raise ValueError(f"guide_layers must be one of {SUPPORTED_LAYERS}, not {self.guide_layers!r}")
        if isinstance(self.guide_width, bool) or not isinstance(self.guide_width, (int, float)) \
                or not 0.125 <= self.guide_width <= 1.0:
            raise ValueError(f"guide_width must be in [0.125, 1.0], not {self.guide_width!r}")
        if not _is_int(self.pac_feature_channels) or self.pac_feature_channels < 4 \
                or self.pac_feature_channels % 4:
            raise ValueError(f"pac_feature_channels must be a positive multiple of 4 (group norm), "
                             f"not {self.pac_feature_channels!r}")
        if self.pac and self.guide == "none":
            raise ValueError("pac=True needs a frozen semantic network: set guide to 'branch' (with guide_path "
                             "= a checkpoint of this project) or 'torchscript' (guide_path = a segmentation model)")
        if self.guide != "none" and not self.pac and self.semantic_input == "none":
            raise ValueError(f"guide '{self.guide}' is set but nothing reads it: it serves pac=True or semantic_input")
        if self.lateral_sharing and not self.semantic:
            raise ValueError("lateral_sharing=True needs semantic=True (it links the depth and semantic decoders)")
        if self.semantic_input == "none" and self.semantic_input_edges:
            raise ValueError("semantic_input_edges=True needs semantic_input 'onehot' or 'dense'")
        if self.semantic_input != "none" and self.semantic_input_classes == "cityscapes" \
                and self.guide == "branch":
            raise ValueError("semantic_input_classes 'cityscapes' needs a 19-class segmenter (guide 'torchscript'); "
                             "a checkpoint's semantic branch only separates foreground from background")

    @property
    def input_classes(self) -> int:
        """Number of classes of the SIGNet input class maps (K of the one-hot encoding)."""
        return 2 if self.semantic_input_classes == "foreground" else len(CITYSCAPES_TRAIN_IDS)

    @property
    def extra_input_channels(self) -> int:
        """Channels concatenated to RGB at the encoder input (SIGNet, Sec. 4.1)."""
        if self.semantic_input == "none":
            return 0
        classes = self.input_classes if self.semantic_input == "onehot" else 1
        return classes + int(self.semantic_input_edges)

    def for_checkpoint(self) -> "ModelConfig":
        """The config as stored in a checkpoint: files needed only to start training are dropped
        (ImageNet weights; a "branch" guide's source checkpoint, whose weights are in the state_dict)."""
        return dataclasses.replace(self, pretrained_path=None,
                                   guide_path=self.guide_path if self.guide == "torchscript" else None)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON/checkpoint friendly) holding every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of to_dict; missing keys take defaults, unknown keys are an error, not dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
