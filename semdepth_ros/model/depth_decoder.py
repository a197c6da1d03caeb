"""Depth decoder with semantic fusion, attention and SEEM (seed 000 App. A.1 Table 4 "Depth Decoder")."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from semdepth_ros.model.attention import SelfAttention
from semdepth_ros.model.layers import (DECODER_CHANNELS, NUM_SCALES, ConvBlock, decoder_iconvs,
                                       decoder_upconvs, sigmoid_heads, upsample)
from semdepth_ros.model.seem import SEEM
from semdepth_ros.model.semantic_decoder import SemanticFeatures

ATTENTION_LEVELS = (4, 3, 2)  # Sec. 4.3: the coarse levels, where an L x L attention map is affordable
SEEM_LEVELS = (2, 1, 0)  # Sec. 4.2: features of layers (2, 1, 0) feed SEEM


class DepthDecoder(nn.Module):
    """Sigmoid disparity at scales 0..3.

    With ``fuse_semantic`` every level i fuses the semantic branch: aconv_i = ConvBlock(cat(D_upconv_i,
    S_upconv_i)) (Table 4); otherwise this is the plain Monodepth2 decoder. ``attention`` adds
    self-attention after aconv4/3/2; ``seem`` enhances the upsampled aconv0 before D_iconv0.
    """

    def __init__(self, num_ch_enc: Sequence[int], fuse_semantic: bool = True, attention: bool = True,
                 seem: SEEM | None = None, num_ch_dec: Sequence[int] = DECODER_CHANNELS) -> None:
        super().__init__()
        if (attention or seem is not None) and not fuse_semantic:
            raise ValueError("attention and SEEM act on fused semantic features: they need fuse_semantic")
        self.num_ch_dec = tuple(num_ch_dec)
        self.upconvs = decoder_upconvs(num_ch_enc, num_ch_dec)
        self.iconvs = decoder_iconvs(num_ch_enc, num_ch_dec)
        self.heads = sigmoid_heads(num_ch_dec)
        self.aconvs = nn.ModuleList(ConvBlock(2 * c, c) for c in num_ch_dec) if fuse_semantic else None
        self.attention = (nn.ModuleDict({str(i): SelfAttention(num_ch_dec[i]) for i in ATTENTION_LEVELS})
                          if attention else None)
        self.seem = seem

    def forward(self, features: Sequence[torch.Tensor], semantic: SemanticFeatures | None = None
                ) -> tuple[dict[int, torch.Tensor], torch.Tensor | None]:
        """features: encoder econv0..4. Returns ({scale: disparity}, SEEM points [B,N,2] or None)."""
        if (self.aconvs is None) != (semantic is None):
            raise ValueError("semantic features must be given exactly when the decoder fuses them")
        disps: dict[int, torch.Tensor] = {}
        aconv: dict[int, torch.Tensor] = {}
        points = None
        x = features[-1]
        for i in range(4, -1, -1):
            x = self.upconvs[i](x)
            if semantic is not None:
                x = aconv[i] = self.aconvs[i](torch.cat([x, semantic.upconv[i]], 1))
            if self.attention is not None and i in ATTENTION_LEVELS:
                x = self.attention[str(i)](x)
            x = upsample(x)
            if i > 0:
                x = torch.cat([x, features[i - 1]], 1)
            elif self.seem is not None:
                x, points = self.seem(x, semantic.probs[0], enc_features=[features[1], features[0]],
                                      dec_features=[aconv[j] for j in SEEM_LEVELS],
                                      sem_features=[semantic.upconv[j] for j in SEEM_LEVELS])
            x = self.iconvs[i](x)
            if i < NUM_SCALES:
                disps[i] = torch.sigmoid(self.heads[i](x))
        return disps, points
