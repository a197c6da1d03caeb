"""Relative camera pose between two frames for self-supervised training (Monodepth2's separate pose net)."""
from __future__ import annotations

import os

import torch
from torch import nn

from semdepth_ros.model.resnet import ResNetEncoder

POSE_SCALE = 0.01  # Monodepth2: keeps the initial motion small so early warps stay inside the image


class PoseDecoder(nn.Module):
    """squeeze 1x1 -> two 3x3 convs -> 1x1 to 6 values, averaged over the image; the rotation scaled
    by POSE_SCALE, the translation by ``translation_scale`` (the unit of one raw output)."""

    def __init__(self, in_channels: int, width: int = 256, translation_scale: float = POSE_SCALE) -> None:
        super().__init__()
        self.translation_scale = translation_scale
        self.squeeze = nn.Conv2d(in_channels, width, 1)
        self.conv1 = nn.Conv2d(width, width, 3, 1, 1)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1)
        self.pose_out = nn.Conv2d(width, 6, 1)
        self.relu = nn.ReLU()

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.squeeze(features))
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        pose = self.pose_out(x).mean(dim=(2, 3)).view(-1, 1, 6)
        return POSE_SCALE * pose[..., :3], self.translation_scale * pose[..., 3:]


class PoseNet(nn.Module):
    """ResNet on the channel-stacked pair (frame_a, frame_b) -> (axisangle [B,1,3], translation [B,1,3]).

    The transform maps frame_a coordinates to frame_b (docs/interfaces.md); swapping the frames gives
    the other direction, which the trainer inverts as Monodepth2 does.

    ``translation_scale`` is what one raw decoder output is worth: Monodepth2's 0.01 suits a
    self-supervised start (tiny motion, any depth unit), while a net pre-trained on metric motion
    (0.1-3 m per frame) uses 1.0, so its translation comes out in metres without weights ~100x
    larger than the rest.
    """

    def __init__(self, num_layers: int = 18, pretrained_path: str | os.PathLike | None = None,
                 translation_scale: float = POSE_SCALE) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.encoder = ResNetEncoder(num_layers, num_input_images=2, pretrained_path=pretrained_path)
        self.decoder = PoseDecoder(self.encoder.num_ch_enc[-1], translation_scale=translation_scale)

    def config(self) -> dict[str, float | int]:
        """What rebuilds this net (weights aside): stored with it in checkpoints."""
        return {"num_layers": self.num_layers, "translation_scale": self.decoder.translation_scale}

    def forward(self, frame_a: torch.Tensor, frame_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder(self.encoder(torch.cat([frame_a, frame_b], 1))[-1])
