"""P, the landmark predictor: image features and a query embedding -> where the query is.

2D head (the CVPR 2023 baseline): MLP([f, Q(p)]) -> a 2D point in normalised crop coordinates
([-1, 1], see ``lm3d.model.crop``). The first layer is applied to f and Q(p) separately and summed,
which equals a linear layer on the concatenation but costs B + K rows instead of B x K.
"""
from __future__ import annotations

import torch
from torch import nn


class LandmarkPredictor2D(nn.Module):
    """(B,F) image features and (B,K,Q) query embeddings -> (B,K,2) normalised crop coordinates."""

    def __init__(self, feature_dim: int = 256, query_dim: int = 128, hidden: int = 256, layers: int = 3):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {layers}, {hidden}")
        self.from_features = nn.Linear(feature_dim, hidden)
        self.from_queries = nn.Linear(query_dim, hidden, bias=False)
        blocks = []
        for _ in range(layers - 1):
            blocks += [nn.ReLU(), nn.Linear(hidden, hidden)]
        self.mlp = nn.Sequential(*blocks, nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, features: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        hidden = self.from_features(features)[:, None] + self.from_queries(queries)
        return self.mlp(hidden)
