"""The feature extractor F: a small ResNet-style CNN, ours (no torchvision, no timm).

A stride-2 stem and four stages of two residual blocks each (the first block of each stage
halves the resolution), widths w, 2w, 4w, 8w, then global average pooling and a linear layer
to a feature vector f. GroupNorm instead of BatchNorm: statistics do not depend on the batch,
so a model behaves the same at batch size 1 (inference) as in training, and data-parallel
training matches single-process training exactly.
"""
from __future__ import annotations

import torch
from torch import nn


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResidualBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.norm1 = _norm(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.norm2 = _norm(outputs)
        self.skip = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), _norm(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(y)) + self.skip(x))


class FeatureExtractor(nn.Module):
    """(B,3,S,S) normalised images -> (B,feature_dim) features."""

    def __init__(self, width: int = 32, feature_dim: int = 256, blocks_per_stage: int = 2):
        super().__init__()
        if width < 8 or feature_dim < 1 or blocks_per_stage < 1:
            raise ValueError(f"width must be >= 8, feature_dim and blocks_per_stage >= 1; got {width}, "
                             f"{feature_dim}, {blocks_per_stage}")
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), _norm(width), nn.ReLU())
        stages, channels = [], width
        for stage in range(4):
            out = width * 2 ** stage
            for block in range(blocks_per_stage):
                stages.append(ResidualBlock(channels, out, 2 if block == 0 and stage > 0 else 1))
                channels = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels, feature_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(images))
        return self.head(x.mean(dim=(2, 3)))
