"""The feature extractor F: a small ResNet-style CNN, ours (no torchvision, no timm).

A stride-2 stem and four stages of two residual blocks each (the first block of each stage
halves the resolution), widths w, 2w, 4w, 8w, then global average pooling and a linear layer
to a feature vector f. GroupNorm instead of BatchNorm: statistics do not depend on the batch,
so a model behaves the same at batch size 1 (inference) as in training, and data-parallel
training matches single-process training exactly.

``pooling="mean"`` averages the last feature map (the CVPR 2023 baseline's choice). An average forgets
*where* things are, which matters once the face is not centred in the crop (a spatial transformer's crop
is never as tight as a box around the true face): ``pooling="keypoints"`` adds, per channel, the expected
(x, y) position under a softmax over the map (a spatial soft-argmax, Levine et al. 2016), so F can say
where each feature fires. ``pooling="grid"`` keeps a coarse 4x4 grid of the map (averaged within each cell)
and flattens it, so the linear layer sees the layout of the face directly.
"""
from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "keypoints", "grid")
# "bfloat16": F's convolutions run under bfloat16 autocast (a training step 1.4 times cheaper on a CPU with
# AVX512-BF16 at the standard size: benchmarks/bench_training_step.py); its output, and all that follows, stays float32
PRECISIONS = ("float32", "bfloat16")
GRID = 4  # cells per side of pooling="grid"
MAP_STAGES = (1, 2)  # the stages (from 0) whose last maps a refiner samples: 1/4 and 1/8 of the crop's resolution


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups: batch-independent, shared by every CNN of the model (F and S)."""
    return nn.GroupNorm(min(8, channels), channels)


class ResidualBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.norm1 = group_norm(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.norm2 = group_norm(outputs)
        self.skip = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), group_norm(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(y)) + self.skip(x))


class FeatureExtractor(nn.Module):
    """(B,3,S,S) normalised images -> (B,feature_dim) features."""

    def __init__(self, width: int = 32, feature_dim: int = 256, blocks_per_stage: int = 2, pooling: str = "mean",
                 precision: str = "float32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        self.precision = precision
        if width < 8 or feature_dim < 1 or blocks_per_stage < 1:
            raise ValueError(f"width must be >= 8, feature_dim and blocks_per_stage >= 1; got {width}, "
                             f"{feature_dim}, {blocks_per_stage}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), group_norm(width), nn.ReLU())
        stages, channels = [], width
        for stage in range(4):
            out = width * 2 ** stage
            for block in range(blocks_per_stage):
                stages.append(ResidualBlock(channels, out, 2 if block == 0 and stage > 0 else 1))
                channels = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels * {"mean": 1, "keypoints": 3, "grid": GRID * GRID}[pooling], feature_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._extract(images, keep_maps=False)[0]

    @property
    def map_channels(self) -> int:
        """Channels of the maps ``features_and_maps`` returns (the ends of stages 2 and 3)."""
        return sum(block.conv2.out_channels for block in self._map_blocks())

    def _map_blocks(self) -> list[ResidualBlock]:
        per_stage = len(self.stages) // 4
        return [self.stages[per_stage * (stage + 1) - 1] for stage in MAP_STAGES]

    def features_and_maps(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B,F) features and the spatial maps of stages 2 and 3 (float32), for a refiner to sample."""
        return self._extract(images, keep_maps=True)

    def _extract(self, images: torch.Tensor, keep_maps: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        ends, maps = set(map(id, self._map_blocks())) if keep_maps else set(), []
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            x = self.stem(images)
            for block in self.stages:
                x = block(x)
                if id(block) in ends:
                    maps.append(x)
        x = x.float()  # pooling, the head and everything after F keep float32: landmarks need their last bits
        return self._pool(x), [m.float() for m in maps]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooling == "grid":
            return self.head(nn.functional.adaptive_avg_pool2d(x, GRID).flatten(1))
        pooled = x.mean(dim=(2, 3))
        if self.pooling == "keypoints":
            pooled = torch.cat([pooled, spatial_soft_argmax(x)], 1)
        return self.head(pooled)


def spatial_soft_argmax(x: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) -> (B,2C): each channel's expected (x, y) in [-1, 1] under a softmax over its map."""
    b, c, h, w = x.shape
    weights = x.flatten(2).softmax(-1).reshape(b, c, h, w)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=x.device, dtype=x.dtype)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=x.device, dtype=x.dtype)
    return torch.cat([(weights.sum(2) * xs).sum(-1), (weights.sum(3) * ys).sum(-1)], 1)
