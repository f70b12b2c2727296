"""R, the refiner: each point corrected from the image features where it now lies (a step beyond both papers).

P reads one pooled vector f of the whole crop, so it knows where the parts of the face are only as far as the
pooling kept it. R looks where each point landed: it samples F's spatial maps (the ends of stages 2 and 3, at
1/4 and 1/8 of the crop's resolution) bilinearly at the point's crop coordinates, and an MLP of [those local
features, Q(p), the point] answers with a correction. This is the local, per-point second stage of cascaded
detectors (DAN, SLPT, PIPNet's local features), asked per continuous query, so any query still works.

2D head: the correction is a shift in normalised crop coordinates. 3D head (``ModelConfig.refine_space``): with
"shape" it is a shift of the canonical 3D point (cm), which γ's camera projects again, so the shape, the pose and the
2D points stay one consistent answer; with "image" it shifts the projected point in the crop, as for a 2D head, and
the 3D points, pose and camera stay what P and γ said (the 2D points then refine on that projection). The
point is read where P put it without a gradient through the sampling position (as cascades do), and the last layer
starts at zero: an untrained R changes nothing.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Refiner(nn.Module):
    """(maps, (B,K,2) crop points, (B,K,Q) query embeddings) -> (B,K,outputs) corrections."""

    def __init__(self, map_channels: int, query_dim: int, hidden: int, outputs: int):
        super().__init__()
        if map_channels < 1 or hidden < 1 or outputs < 1:
            raise ValueError(f"map_channels, hidden and outputs must be >= 1, got {map_channels}, {hidden}, {outputs}")
        self.mlp = nn.Sequential(nn.Linear(map_channels + query_dim + 2, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, outputs))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, maps: list[torch.Tensor], crop_points: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        where = crop_points.detach()
        grid = where[:, :, None, :]  # (B,K,1,2): grid_sample's frame is the crop's ([-1, 1], align_corners=False)
        local = [F.grid_sample(m, grid.to(m.dtype), align_corners=False)[..., 0].transpose(1, 2) for m in maps]
        queries = queries if queries.ndim == 3 else queries.expand(len(where), -1, -1)
        return self.mlp(torch.cat([*local, queries, where], -1))
