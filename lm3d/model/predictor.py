"""P, the landmark predictor: image features and a query embedding -> where the query is.

2D head (the CVPR 2023 baseline): MLP([f, Q(p)]) -> a 2D point in normalised crop coordinates
([-1, 1], see ``lm3d.model.crop``). The first layer is applied to f and Q(p) separately and summed,
which equals a linear layer on the concatenation but costs B + K rows instead of B x K.

3D head (the 2024 paper): X = p + MLP([f, Q(p)]), a point in canonical space (cm) that starts at the query
itself (the last layer starts at zero); the camera of ``lm3d.model.camera_head`` projects it into the crop.
The offset is what the face in the image does differently from the template: identity, expression and the
annotators' convention.
"""
from __future__ import annotations

import torch
from torch import nn


class LandmarkPredictor2D(nn.Module):
    """(B,F) image features and (B,K,Q) query embeddings -> (B,K,2) normalised crop coordinates."""

    OUTPUTS = 2

    def __init__(self, feature_dim: int = 256, query_dim: int = 128, hidden: int = 256, layers: int = 3):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {layers}, {hidden}")
        self.from_features = nn.Linear(feature_dim, hidden)
        self.from_queries = nn.Linear(query_dim, hidden, bias=False)
        blocks = []
        for _ in range(layers - 1):
            blocks += [nn.ReLU(), nn.Linear(hidden, hidden)]
        self.mlp = nn.Sequential(*blocks, nn.ReLU(), nn.Linear(hidden, self.OUTPUTS))

    def forward(self, features: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        hidden = self.from_features(features)[:, None] + self.from_queries(queries)
        return self.mlp(hidden)


class LandmarkPredictor3D(LandmarkPredictor2D):
    """(B,F) features, (B,K,Q) query embeddings and the (…,K,3) queries -> (B,K,3) canonical points in cm."""

    OUTPUTS = 3

    def __init__(self, feature_dim: int = 256, query_dim: int = 128, hidden: int = 256, layers: int = 3):
        super().__init__(feature_dim, query_dim, hidden, layers)
        nn.init.zeros_(self.mlp[-1].weight)  # X starts at the template: the query point itself
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor, queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return points + super().forward(features, queries)
