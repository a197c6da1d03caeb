"""Depth decoder with semantic fusion, attention and SEEM (Semantic-Guided Representation Enhancement, App. A.1
Table 4 "Depth Decoder"), and the switches of the other papers: pixel-adaptive upconvs (Semantically-Guided Representation
Learning, Sec. 4.1) and lateral sharing with the semantic decoder (Look Deeper into Depth, Table 3)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from semdepth_ros.model.attention import SelfAttention
from semdepth_ros.model.layers import (DECODER_CHANNELS, NUM_SCALES, ConvBlock, decoder_iconvs,
                                       decoder_upconvs, sigmoid_heads, upsample)
from semdepth_ros.model.pac import GuideAdapter, PacBlock
from semdepth_ros.model.seem import SEEM
from semdepth_ros.model.semantic_decoder import SemanticDecoder, SemanticFeatures

ATTENTION_LEVELS = (4, 3, 2)  # Sec. 4.3: the coarse levels, where an L x L attention map is affordable
SEEM_LEVELS = (2, 1, 0)  # Sec. 4.2: features of layers (2, 1, 0) feed SEEM


class LateralSharing(nn.Module):
    """One lateral sharing unit of Look Deeper into Depth, Table 3: the next depth level reads
    (1 + phi_D) * upconv_dep + phi_S * upconv_sem and the next semantic level
    (1 + gamma_S) * upconv_sem + gamma_D * upconv_dep. The weights are learned per channel and start
    at 0, so training starts from the two separate decoders."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(4, 1, channels, 1, 1))  # phi_D, phi_S, gamma_S, gamma_D

    def forward(self, depth: torch.Tensor, semantic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi_d, phi_s, gamma_s, gamma_d = self.weights
        return (1 + phi_d) * depth + phi_s * semantic, (1 + gamma_s) * semantic + gamma_d * depth


class DepthDecoder(nn.Module):
    """Sigmoid disparity at scales 0..3.

    With ``fuse_semantic`` every level i fuses the semantic branch: aconv_i = ConvBlock(cat(D_upconv_i,
    S_upconv_i)) (Table 4); otherwise this is the plain Monodepth2 decoder. ``attention`` adds
    self-attention after aconv4/3/2; ``seem`` enhances the upsampled aconv0 before D_iconv0.
    ``guide_channels`` (one per level) makes every D_upconv_i a pixel-adaptive convolution guided by
    that level of a frozen semantic network; ``lateral`` adds a sharing unit per level, and then the
    decoder runs the semantic decoder level by level beside it.
    """

    def __init__(self, num_ch_enc: Sequence[int], fuse_semantic: bool = True, attention: bool = True,
                 seem: SEEM | None = None, num_ch_dec: Sequence[int] = DECODER_CHANNELS,
                 guide_channels: Sequence[int] | None = None, guide_features: int = 16,
                 lateral: bool = False) -> None:
        super().__init__()
        if (attention or seem is not None or lateral) and not fuse_semantic:
            raise ValueError("attention, SEEM and lateral sharing act on fused semantic features: they need "
                             "fuse_semantic")
        self.num_ch_dec = tuple(num_ch_dec)
        self.upconvs = decoder_upconvs(num_ch_enc, num_ch_dec)
        self.guide_adapters = None
        if guide_channels is not None:
            inputs = [*num_ch_dec[1:], num_ch_enc[-1]]
            self.upconvs = nn.ModuleList(PacBlock(cin, cout, init_sigma=guide_features ** 0.5)
                                         for cin, cout in zip(inputs, num_ch_dec))
            self.guide_adapters = nn.ModuleList(GuideAdapter(c, guide_features) for c in guide_channels)
        self.iconvs = decoder_iconvs(num_ch_enc, num_ch_dec)
        self.heads = sigmoid_heads(num_ch_dec)
        self.aconvs = nn.ModuleList(ConvBlock(2 * c, c) for c in num_ch_dec) if fuse_semantic else None
        self.attention = (nn.ModuleDict({str(i): SelfAttention(num_ch_dec[i]) for i in ATTENTION_LEVELS})
                          if attention else None)
        self.seem = seem
        self.lateral = nn.ModuleList(LateralSharing(c) for c in num_ch_dec) if lateral else None

    def forward(self, features: Sequence[torch.Tensor], semantic: SemanticFeatures | SemanticDecoder | None = None,
                guide: Sequence[torch.Tensor] | None = None
                ) -> tuple[dict[int, torch.Tensor], torch.Tensor | None, dict[int, torch.Tensor] | None]:
        """features: encoder econv0..4; ``semantic``: the semantic branch's features, or with lateral
        sharing the semantic decoder itself; ``guide``: the frozen network's 5 levels (pixel-adaptive
        upconvs). Returns ({scale: disparity}, SEEM points [B,N,2] or None, {scale: foreground
        probability} when the semantic decoder ran here, else None)."""
        lateral = self.lateral is not None
        if (self.aconvs is None) != (semantic is None) or lateral != isinstance(semantic, SemanticDecoder):
            raise ValueError("semantic features (or, with lateral sharing, the semantic decoder) must be given "
                             "exactly when the decoder fuses them")
        if (self.guide_adapters is None) != (guide is None):
            raise ValueError("guide features must be given exactly when the upconvs are pixel-adaptive")
        disps: dict[int, torch.Tensor] = {}
        aconv: dict[int, torch.Tensor] = {}
        sem_upconv: dict[int, torch.Tensor] = {}
        probs: dict[int, torch.Tensor] = {}
        points = None
        x = x_sem = features[-1]
        for i in range(4, -1, -1):
            if self.guide_adapters is not None:
                x = self.upconvs[i](x, self.guide_adapters[i](guide[i], x.shape[-2:]))
            else:
                x = self.upconvs[i](x)
            if lateral:
                x, sem_upconv[i] = self.lateral[i](x, semantic.up(i, x_sem))
                x_sem, prob = semantic.down(i, sem_upconv[i], features)
                if prob is not None:
                    probs[i] = prob
            elif semantic is not None:
                sem_upconv[i] = semantic.upconv[i]
            if self.aconvs is not None:
                x = aconv[i] = self.aconvs[i](torch.cat([x, sem_upconv[i]], 1))
            if self.attention is not None and i in ATTENTION_LEVELS:
                x = self.attention[str(i)](x)
            x = upsample(x)
            if i > 0:
                x = torch.cat([x, features[i - 1]], 1)
            elif self.seem is not None:
                fg = probs[0] if lateral else semantic.probs[0]
                x, points = self.seem(x, fg, enc_features=[features[1], features[0]],
                                      dec_features=[aconv[j] for j in SEEM_LEVELS],
                                      sem_features=[sem_upconv[j] for j in SEEM_LEVELS])
            x = self.iconvs[i](x)
            if i < NUM_SCALES:
                disps[i] = torch.sigmoid(self.heads[i](x))
        return disps, points, (probs if lateral else None)
