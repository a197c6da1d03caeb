"""Architecture switches for SemDepthNet, validated up front so a bad combination fails with one sentence."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

SUPPORTED_LAYERS = (18, 50)


@dataclasses.dataclass
class ModelConfig:
    """What SemDepthNet is built from. Defaults are seed 000 (ResNet-50, Sec. 4, App. A.2)."""

    num_layers: int = 50
    semantic: bool = True
    seem: bool = True
    attention: bool = True
    seem_points: int = 3000  # N, App. A.2
    seem_edge_ratio: float = 0.4  # mu, App. A.2 (mu*N edge points, as many disturbed, the rest random)
    seem_disturb: int = 3  # c, App. A.2 Table 5
    seem_reference_pixels: int = 192 * 640  # N is given for this many pixels and scaled with H*W
    # Channel multiplier for encoder and decoders (1.0 = the paper). < 1 gives the small, fast
    # variants used for CPU training and the bundled demo model; it rules out ImageNet weights.
    width: float = 1.0
    pretrained_path: str | None = None  # torchvision ResNet state_dict; checkpoints store None

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
        if isinstance(self.pretrained_path, os.PathLike):
            self.pretrained_path = os.fspath(self.pretrained_path)
        if self.pretrained_path is not None and not isinstance(self.pretrained_path, str):
            raise ValueError(f"pretrained_path must be a file path or None, not {self.pretrained_path!r}")

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
