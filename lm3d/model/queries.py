"""The positional encoder Q of a query and the landmark predictor P.

Q: a 3D query point p (canonical cm) -> Fourier features [p, sin(2^l pi p / s), cos(2^l pi p / s)]
for l < L (s = 10 cm puts the lowest frequency at the scale of the face), then an MLP. Without the
high frequencies an MLP is too smooth to tell neighbouring landmarks apart (Tancik et al., 2020).

P (2D head, the CVPR 2023 baseline): MLP([f, Q(p)]) -> a 2D point in normalised crop coordinates
([-1, 1], see ``lm3d.crop``). The first layer is applied to f and Q(p) separately and summed,
which equals a linear layer on the concatenation but costs B + K rows instead of B x K.
"""
from __future__ import annotations

import math

import torch
from torch import nn

QUERY_SCALE_CM = 10.0


class QueryEncoder(nn.Module):
    """(…,3) canonical query points -> (…,dim) query embeddings."""

    def __init__(self, frequencies: int = 6, dim: int = 128):
        super().__init__()
        if frequencies < 0 or dim < 1:
            raise ValueError(f"frequencies must be >= 0 and dim >= 1, got {frequencies}, {dim}")
        self.register_buffer("bands", (2.0 ** torch.arange(frequencies)) * math.pi / QUERY_SCALE_CM, persistent=False)
        inputs = 3 + 6 * frequencies
        self.mlp = nn.Sequential(nn.Linear(inputs, dim), nn.ReLU(), nn.Linear(dim, dim))

    def fourier(self, points: torch.Tensor) -> torch.Tensor:
        angles = points[..., None] * self.bands  # (…,3,L)
        return torch.cat([points / QUERY_SCALE_CM, angles.sin().flatten(-2), angles.cos().flatten(-2)], -1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.fourier(points))


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
