"""The frozen semantic network some variants read: guide features for pixel-adaptive convolutions
(Semantically-Guided Representation Learning, Sec. 4.1) and class maps for SIGNet's input
augmentation (SIGNet, Sec. 4.1), computed inside the model so the node needs no extra input.

Two kinds (``ModelConfig.guide``):

- ``branch``: the ResNet encoder + binary semantic decoder of a checkpoint of this project. Its
  weights are part of the model's state_dict (the checkpoint is self-contained); the features are the
  decoder's S_upconv_i, i = 0..4 at 1/2^(i+1) of the input, the class map is foreground (fg > 0.5).
- ``torchscript``: a user's segmentation model, the contract of `semdepth pseudo-labels --model`:
  input [B,3,H,W] float RGB in [0, 1] at the depth network's input size (H, W multiples of 32; any
  normalisation is the model's own job), output [B,C,h,w] class scores (19 Cityscapes train ids for
  the class maps; argmax taken), or a [B,h,w] / [B,1,h,w] train-id map (one-hot for the features),
  or a list/tuple of 5 feature maps [B,C_i,h_i,w_i] (guide features only: level i is resized to
  1/2^(i+1) of the input; no class map); a dict output is read at "out". Any h, w: outputs are
  resized to where they are used. The file is loaded from ``guide_path`` wherever the model is
  built (training, the node), and its weights are also kept in the checkpoint.

The guide never trains: parameters are frozen, it stays in eval mode and runs without autograd.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS, FOREGROUND_TRAIN_IDS
from semdepth_ros.model.config import ModelConfig
from semdepth_ros.model.layers import DECODER_CHANNELS, scaled_channels
from semdepth_ros.model.resnet import ResNetEncoder
from semdepth_ros.model.semantic_decoder import SemanticDecoder

NUM_LEVELS = 5
PROBE_SIZE = 64  # a TorchScript guide is run once on a 1x3x64x64 input to learn its output channels


class GuideOutput(NamedTuple):
    """What the frozen network saw: per-level features and, when it has one, a class-id map."""

    levels: list[torch.Tensor]       # 5 maps; level i is used at 1/2^(i+1) of the input
    classes: torch.Tensor | None     # [B,h,w] int64 ids of ``class_set``
    class_set: str = "cityscapes"    # "cityscapes" train ids (a segmenter) or "foreground" 0/1 (a branch)


class BranchNetwork(nn.Module):
    """Encoder + semantic decoder with the layout of SemDepthNet, so a checkpoint's weights copy over."""

    def __init__(self, num_layers: int, width: float) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(num_layers, width=width)
        self.semantic_decoder = SemanticDecoder(self.encoder.num_ch_enc, scaled_channels(DECODER_CHANNELS, width))

    def forward(self, images: torch.Tensor) -> GuideOutput:
        semantic = self.semantic_decoder(self.encoder(images))
        return GuideOutput(semantic.upconv, (semantic.probs[0][:, 0] > 0.5).long(), "foreground")


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """The user's TorchScript file, or FileNotFoundError / ValueError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"guide model not found: {path} (ModelConfig.guide_path; the TorchScript "
                                "segmentation model must be at this path wherever the checkpoint runs)")
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is what many users have
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # torch raises many types for non-TorchScript files
        raise ValueError(f"{path} is not a TorchScript model ({type(exc).__name__})") from exc


def _torchscript_output(raw: Any) -> GuideOutput:
    """Interpret a TorchScript guide's output per the module docstring."""
    raw = raw["out"] if isinstance(raw, dict) else raw
    if isinstance(raw, (list, tuple)):
        if len(raw) != NUM_LEVELS or not all(isinstance(t, torch.Tensor) and t.dim() == 4 for t in raw):
            raise ValueError(f"a guide returning a list must return {NUM_LEVELS} [B,C,h,w] feature maps")
        return GuideOutput([t.float() for t in raw], None)
    if not isinstance(raw, torch.Tensor):
        raise ValueError(f"guide output must be a tensor, a list of tensors or a dict with 'out', not {type(raw)}")
    if raw.dim() == 4 and raw.shape[1] > 1:
        return GuideOutput([raw.float()] * NUM_LEVELS, raw.argmax(1))
    if raw.dim() == 4:
        raw = raw[:, 0]
    if raw.dim() != 3:
        raise ValueError(f"guide output of shape {tuple(raw.shape)} is neither [B,C,h,w] scores nor a [B,h,w] map")
    ids = (raw.round() if raw.is_floating_point() else raw).long()
    onehot = F.one_hot(ids.clamp(0, len(CITYSCAPES_TRAIN_IDS)), len(CITYSCAPES_TRAIN_IDS) + 1)[..., :-1]
    return GuideOutput([onehot.permute(0, 3, 1, 2).float()] * NUM_LEVELS, ids)


class SemanticGuide(nn.Module):
    """The frozen network of ``config.guide``; ``level_channels`` are the channels of its 5 levels."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.kind = config.guide
        if self.kind == "branch":
            self.net: nn.Module = BranchNetwork(config.guide_layers, config.guide_width)
            self.level_channels = list(scaled_channels(DECODER_CHANNELS, config.guide_width))
        elif self.kind == "torchscript":
            self.net = load_torchscript(config.guide_path)
            self.level_channels = self._probe()
        else:
            raise ValueError(f"no guide network for guide={config.guide!r}")
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.train(False)

    def _probe(self) -> list[int]:
        with torch.no_grad():
            try:
                out = self._run(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))
            except ValueError:
                raise
            except Exception as exc:  # the user's model failing on a plain image
                raise ValueError(f"the guide model failed on a 1x3x{PROBE_SIZE}x{PROBE_SIZE} RGB input in [0, 1]: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        return [level.shape[1] for level in out.levels]

    def _run(self, images: torch.Tensor) -> GuideOutput:
        if self.kind == "branch":
            return self.net(images)
        return _torchscript_output(self.net(images))

    def train(self, mode: bool = True) -> "SemanticGuide":
        """Always eval: the guide is frozen (its batch norm statistics included)."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> GuideOutput:
        with torch.no_grad():
            return self._run(images)


def input_class_map(out: GuideOutput, class_set: str, size: tuple[int, int]) -> torch.Tensor:
    """[B,H,W] int64 class ids of SIGNet's input in ``class_set`` ("foreground": 0/1, "cityscapes":
    train ids, 255 = ignore), nearest-resized to ``size``; ValueError when the guide gives no classes."""
    if out.classes is None:
        raise ValueError("the guide returns feature maps only, no class map: SIGNet's semantic input needs a "
                         "segmentation model that returns class scores or a train-id map")
    if class_set == "cityscapes" and out.class_set != "cityscapes":
        raise ValueError("a foreground/background guide cannot give the 19 Cityscapes classes")
    classes = foreground_ids(out.classes) if class_set != out.class_set else out.classes
    if tuple(classes.shape[-2:]) != tuple(size):
        classes = F.interpolate(classes[:, None].float(), size=size, mode="nearest")[:, 0].long()
    return classes


def foreground_ids(train_ids: torch.Tensor) -> torch.Tensor:
    """Foreground (1) / background (0) of a train-id map (Semantic-Guided Representation Enhancement,
    Table 7); ignore and unknown ids are background."""
    table = torch.zeros(256, dtype=torch.long, device=train_ids.device)
    table[list(FOREGROUND_TRAIN_IDS)] = 1
    return table[train_ids.clamp(0, 255)]
