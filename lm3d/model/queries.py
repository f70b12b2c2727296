"""Q, the positional encoder of a query.

A 3D query point p (canonical cm) -> Fourier features [p, sin(2^l pi p / s), cos(2^l pi p / s)]
for l < L (s = 10 cm puts the lowest frequency at the scale of the face), then an MLP. Without the
high frequencies an MLP is too smooth to tell neighbouring landmarks apart (Tancik et al., 2020).
The landmark predictor P (``lm3d.model.predictor``) reads these embeddings beside the image features.
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
