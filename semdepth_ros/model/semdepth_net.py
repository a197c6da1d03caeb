"""The assembled seed 000 network: shared ResNet encoder, semantic branch, fused depth branch."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semdepth_ros.model.config import ModelConfig
from semdepth_ros.model.depth_decoder import SEEM_LEVELS, DepthDecoder
from semdepth_ros.model.layers import DECODER_CHANNELS, scaled_channels
from semdepth_ros.model.resnet import ResNetEncoder
from semdepth_ros.model.seem import SEEM
from semdepth_ros.model.semantic_decoder import SemanticDecoder

SIZE_MULTIPLE = 32  # five stride-2 stages; every decoder level must line up with its skip connection


class SemDepthNet(nn.Module):
    """images [B,3,H,W] in [0,1] -> {("disp", s), ("fg", s), "seem_points"} (see docs/interfaces.md)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ResNetEncoder(config.num_layers, pretrained_path=config.pretrained_path,
                                     width=config.width)
        num_ch_enc = self.encoder.num_ch_enc
        num_ch_dec = scaled_channels(DECODER_CHANNELS, config.width)
        self.semantic_decoder = SemanticDecoder(num_ch_enc, num_ch_dec) if config.semantic else None
        seem = None
        if config.seem:
            # Table 4 "SEEM": econv1, econv0; aconv2, 1, 0; S_upconv2, 1, 0; output = aconv0's width.
            level_channels = [num_ch_dec[i] for i in SEEM_LEVELS]
            seem = SEEM([num_ch_enc[1], num_ch_enc[0]], level_channels, level_channels, num_ch_dec[0],
                        n_points=config.seem_points, edge_ratio=config.seem_edge_ratio,
                        disturb=config.seem_disturb, reference_pixels=config.seem_reference_pixels)
        self.depth_decoder = DepthDecoder(num_ch_enc, fuse_semantic=config.semantic,
                                          attention=config.attention, seem=seem, num_ch_dec=num_ch_dec)

    def forward(self, images: torch.Tensor) -> dict[Any, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B,3,H,W], got {tuple(images.shape)}")
        h, w = images.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
            raise ValueError(f"input height and width must be multiples of {SIZE_MULTIPLE}, got {h}x{w}")
        features = self.encoder(images)
        semantic = self.semantic_decoder(features) if self.semantic_decoder is not None else None
        disps, points = self.depth_decoder(features, semantic)
        outputs: dict[Any, torch.Tensor] = {("disp", s): d for s, d in disps.items()}
        if semantic is not None:
            outputs.update({("fg", s): p for s, p in semantic.probs.items()})
        if points is not None:
            outputs["seem_points"] = points
        return outputs
