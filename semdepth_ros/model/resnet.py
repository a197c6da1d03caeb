"""ResNet-18/50 feature encoder written here (no torchvision on the target machines).

Module names follow torchvision's ``resnet`` so an ImageNet state_dict from torchvision loads key for
key (``load_torchvision_state_dict``); the classifier (``fc``) is not built.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from semdepth_ros.model.layers import scaled_channels

# Monodepth2's input normalisation, kept so torchvision ImageNet weights see inputs of the usual range.
INPUT_MEAN = 0.45
INPUT_STD = 0.225


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with identity shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, torchvision "v1.5"), 1x1 expand x4 (ResNet-50+)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    """Projection shortcut when the block changes resolution or width (torchvision's ``downsample``)."""
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))


ARCHITECTURES: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    50: (Bottleneck, (3, 4, 6, 3)),
}
# Block counts of every torchvision ResNet, only to name the architecture a mismatching file holds.
_TORCHVISION_DEPTHS = {("basic", (2, 2, 2, 2)): 18, ("basic", (3, 4, 6, 3)): 34,
                       ("bottleneck", (3, 4, 6, 3)): 50, ("bottleneck", (3, 4, 23, 3)): 101,
                       ("bottleneck", (3, 8, 36, 3)): 152}


class ResNetEncoder(nn.Module):
    """ResNet trunk returning econv0..econv4 at /2, /4, /8, /16, /32 (Semantic-Guided Representation Enhancement,
    Table 4 inputs).

    ``num_input_images`` > 1 stacks frames along channels (the pose net sees a pair as 6 channels).
    ``extra_channels`` are maps concatenated to the normalised RGB (SIGNet, Sec. 4.1: class maps and
    edges), so the first convolution takes 3 + extra channels.
    """

    def __init__(self, num_layers: int = 18, num_input_images: int = 1,
                 pretrained_path: str | os.PathLike | None = None, width: float = 1.0,
                 extra_channels: int = 0) -> None:
        super().__init__()
        if num_layers not in ARCHITECTURES:
            raise ValueError(f"num_layers must be one of {sorted(ARCHITECTURES)}, not {num_layers!r}")
        if num_input_images < 1:
            raise ValueError(f"num_input_images must be >= 1, not {num_input_images}")
        self.num_layers = num_layers
        self.num_input_images = num_input_images
        self.extra_channels = extra_channels
        block, counts = ARCHITECTURES[num_layers]
        stem, *stage_planes = scaled_channels((64, 64, 128, 256, 512), width)
        self.conv1 = nn.Conv2d(3 * num_input_images + extra_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_planes = stem
        for index, (planes, count) in enumerate(zip(stage_planes, counts)):
            stride = 1 if index == 0 else 2
            blocks = []
            for b in range(count):
                blocks.append(block(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes * block.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
        self.num_ch_enc = [stem] + [planes * block.expansion for planes in stage_planes]
        self._init_weights()
        if pretrained_path is not None:
            self.load_torchvision_state_dict(pretrained_path)

    def _init_weights(self) -> None:
        """He initialisation as torchvision does, for training from scratch."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, images: torch.Tensor, extra: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = (images - INPUT_MEAN) / INPUT_STD
        if (extra is None) != (self.extra_channels == 0):
            raise ValueError(f"this encoder takes {self.extra_channels} extra input channels")
        if extra is not None:
            x = torch.cat([x, extra.to(x.dtype)], 1)
        econv0 = self.relu(self.bn1(self.conv1(x)))
        econv1 = self.layer1(self.maxpool(econv0))
        econv2 = self.layer2(econv1)
        econv3 = self.layer3(econv2)
        econv4 = self.layer4(econv3)
        return [econv0, econv1, econv2, econv3, econv4]

    def load_torchvision_state_dict(self, path: str | os.PathLike) -> None:
        """Load torchvision ResNet weights (e.g. ImageNet ``resnet50-*.pth``) from a local file.

        ``fc.*`` is ignored. With several input images conv1 is replicated per image and divided by
        their number (as Monodepth2 does) so a stack of identical frames gives the single-image response.
        Extra input channels (SIGNet's class maps) start with zero weights: the RGB response is ImageNet's.
        Raises FileNotFoundError for a missing file, ValueError for anything that is not this architecture.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained ResNet weights not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for non-checkpoint files
            raise ValueError(f"{path} is not a readable torch file ({type(exc).__name__})") from exc
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"{path} does not hold a plain state_dict (name -> tensor)")
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        if self.num_input_images > 1 and "conv1.weight" in state:
            n = self.num_input_images
            state["conv1.weight"] = torch.cat([state["conv1.weight"]] * n, 1) / n
        if self.extra_channels and "conv1.weight" in state:
            rgb = state["conv1.weight"]
            state["conv1.weight"] = torch.cat([rgb, rgb.new_zeros(rgb.shape[0], self.extra_channels,
                                                                  *rgb.shape[2:])], 1)
        self._check_compatible(path, state)
        self.load_state_dict(state, strict=False)  # only num_batches_tracked may be absent (old files)

    def _check_compatible(self, path: Path, state: dict[str, torch.Tensor]) -> None:
        expected = self.state_dict()
        missing = sorted(k for k in set(expected) - set(state) if not k.endswith("num_batches_tracked"))
        unexpected = sorted(set(state) - set(expected))
        wrong = [f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                 for k, v in state.items() if k in expected and v.shape != expected[k].shape]
        if not (missing or unexpected or wrong):
            return
        problems = [f"{len(items)} {what} (e.g. {items[:2]})" for what, items in
                    (("missing tensors", missing), ("unexpected tensors", unexpected),
                     ("shape mismatches", wrong)) if items]
        raise ValueError(f"{path} holds {_describe_torchvision_resnet(state)}, not the "
                         f"ResNet-{self.num_layers} this encoder is: {'; '.join(problems)}")


def _describe_torchvision_resnet(state: dict[str, torch.Tensor]) -> str:
    """Name the ResNet a state_dict looks like, for the error message."""
    counts = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    kind = "bottleneck" if any(k.endswith(".conv3.weight") for k in state) else "basic"
    depth = _TORCHVISION_DEPTHS.get((kind, counts))
    return f"ResNet-{depth} weights" if depth else "weights of an unrecognised network"
