"""SIGNet's semantic input augmentation (SIGNet, Sec. 4.1): class maps encoded as extra image channels.

- one-hot: one {0, 1} channel per class, not normalised ("similar value range as the RGB inputs");
- dense: one channel, the class id centred to [-1, 1];
- edges: one {0, 1} channel marking pixels whose 4-neighbourhood holds another id. SIGNet takes the
  gradient of an instance-id map; this project's labels (pseudo-label tool, synthetic world) carry no
  instance ids, so the edges are those of the class map.

Ids outside 0..K-1 (255 = ignore) give all-zero one-hot channels and 0 in the dense channel. Only
comparisons, slicing and padding: the encoding runs inside an exported ONNX graph.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def class_map_edges(ids: torch.Tensor) -> torch.Tensor:
    """[B,H,W] ids -> [B,1,H,W] float, 1 where the right, left, lower or upper neighbour differs."""
    ids = ids[:, None].float()
    dx = (ids[..., :, 1:] != ids[..., :, :-1]).float()
    dy = (ids[..., 1:, :] != ids[..., :-1, :]).float()
    edges = torch.maximum(F.pad(dx, (1, 0, 0, 0)), F.pad(dx, (0, 1, 0, 0)))
    return torch.maximum(edges, torch.maximum(F.pad(dy, (0, 0, 1, 0)), F.pad(dy, (0, 0, 0, 1))))


def encode_class_maps(ids: torch.Tensor, encoding: str, num_classes: int, edges: bool) -> torch.Tensor:
    """[B,H,W] int64 ids -> the extra channels [B,E,H,W] (E = K or 1, plus 1 with edges)."""
    if ids.dim() != 3:
        raise ValueError(f"class maps must be [B,H,W] ids, got {tuple(ids.shape)}")
    classes = torch.arange(num_classes, device=ids.device).view(1, -1, 1, 1)
    known = (ids >= 0) & (ids < num_classes)
    if encoding == "onehot":
        maps = (ids[:, None] == classes).float()
    elif encoding == "dense":
        maps = torch.where(known, 2.0 * ids.float() / (num_classes - 1) - 1.0, torch.zeros_like(ids, dtype=torch.float))
        maps = maps[:, None]
    else:
        raise ValueError(f"encoding must be 'onehot' or 'dense', not {encoding!r}")
    return torch.cat([maps, class_map_edges(ids)], 1) if edges else maps
