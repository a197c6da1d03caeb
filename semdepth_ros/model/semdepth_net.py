"""The assembled network of Semantic-Guided Representation Enhancement: shared ResNet encoder, semantic branch, fused
depth branch; plus the switches of the other papers (docs/variants.md): a frozen semantic guide with pixel-adaptive
convolutions, lateral sharing units and SIGNet's semantic input."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semdepth_ros.model.config import ModelConfig
from semdepth_ros.model.depth_decoder import SEEM_LEVELS, DepthDecoder
from semdepth_ros.model.guide import GuideOutput, SemanticGuide, input_class_map
from semdepth_ros.model.layers import DECODER_CHANNELS, scaled_channels
from semdepth_ros.model.resnet import ResNetEncoder
from semdepth_ros.model.seem import SEEM
from semdepth_ros.model.semantic_decoder import SemanticDecoder
from semdepth_ros.model.semantic_input import encode_class_maps

SIZE_MULTIPLE = 32  # five stride-2 stages; every decoder level must line up with its skip connection
NEEDS_CLASS_MAPS = ("this network takes class maps as input (SIGNet semantic input augmentation) but has no "
                    "segmenter to compute them: train it with model.guide set ('branch' + a checkpoint of this "
                    "project, or 'torchscript' + a segmentation model) or pass class maps")


class SemDepthNet(nn.Module):
    """images [B,3,H,W] in [0,1] -> {("disp", s), ("fg", s), "seem_points"} (see docs/interfaces.md)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.guide = SemanticGuide(config) if config.guide != "none" else None
        self.encoder = ResNetEncoder(config.num_layers, pretrained_path=config.pretrained_path,
                                     width=config.width, extra_channels=config.extra_input_channels)
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
        self.depth_decoder = DepthDecoder(
            num_ch_enc, fuse_semantic=config.semantic, attention=config.attention, seem=seem, num_ch_dec=num_ch_dec,
            guide_channels=self.guide.level_channels if config.pac else None,
            guide_features=config.pac_feature_channels, lateral=config.lateral_sharing)

    @property
    def requires_class_maps(self) -> bool:
        """True when forward() cannot run on images alone (semantic input without a segmenter)."""
        return self.config.semantic_input != "none" and self.guide is None

    def forward(self, images: torch.Tensor, classes: torch.Tensor | None = None) -> dict[Any, torch.Tensor]:
        """``classes`` [B,H,W] int64: SIGNet's input class maps (in ``config.semantic_input_classes``);
        None: computed by the guide when the network needs them."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B,3,H,W], got {tuple(images.shape)}")
        h, w = images.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
            raise ValueError(f"input height and width must be multiples of {SIZE_MULTIPLE}, got {h}x{w}")
        needs_guide = self.config.pac or (self.config.semantic_input != "none" and classes is None)
        guide: GuideOutput | None = self.guide(images) if needs_guide and self.guide is not None else None
        extra = None
        if self.config.semantic_input != "none":
            if classes is None:
                if guide is None:
                    raise ValueError(NEEDS_CLASS_MAPS)
                classes = input_class_map(guide, self.config.semantic_input_classes, (h, w))
            extra = encode_class_maps(classes, self.config.semantic_input, self.config.input_classes,
                                      self.config.semantic_input_edges)
        features = self.encoder(images, extra)
        levels = guide.levels if self.config.pac else None
        if self.config.lateral_sharing:
            disps, points, probs = self.depth_decoder(features, self.semantic_decoder, levels)
        else:
            semantic = self.semantic_decoder(features) if self.semantic_decoder is not None else None
            disps, points, _ = self.depth_decoder(features, semantic, levels)
            probs = semantic.probs if semantic is not None else {}
        outputs: dict[Any, torch.Tensor] = {("disp", s): d for s, d in disps.items()}
        outputs.update({("fg", s): p for s, p in probs.items()})
        if points is not None:
            outputs["seem_points"] = points
        return outputs
