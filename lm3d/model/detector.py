"""The continuous landmark detector of the CVPR 2023 paper (our baseline).

    image I, face box  ->  external crop (lm3d.model.crop)  ->  F (lm3d.model.features)  ->  f
    query p (canonical 3D point)  ->  Q (lm3d.model.queries)  ->  q
    P([f, q]) (lm3d.model.predictor)  ->  point in the crop's normalised frame  ->  back to image pixels

The model never sees a layout: it sees 3D query points, one set per image (or one set shared by
the batch), so any layout, dense set or held-out point can be asked for.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from . import crop as crops
from .features import FeatureExtractor
from .predictor import LandmarkPredictor2D
from .queries import QueryEncoder


def check_ranges(kind: str, config, checks: dict[str, bool]) -> None:
    """Raise a ValueError naming the first config field whose check failed."""
    for name, ok in checks.items():
        if not ok:
            raise ValueError(f"{kind} config value {name}={getattr(config, name)!r} is out of range")


@dataclass
class ModelConfig:
    crop_size: int = 128
    crop_margin: float = 0.25
    width: int = 32
    feature_dim: int = 256
    query_frequencies: int = 6
    query_dim: int = 128
    hidden: int = 256
    layers: int = 3

    def validate(self) -> "ModelConfig":
        checks = {"crop_size": 32 <= self.crop_size <= 512, "crop_margin": 0 <= self.crop_margin <= 2,
                  "width": 8 <= self.width <= 256, "feature_dim": 1 <= self.feature_dim <= 4096,
                  "query_frequencies": 0 <= self.query_frequencies <= 16, "query_dim": 1 <= self.query_dim <= 4096,
                  "hidden": 1 <= self.hidden <= 4096, "layers": 1 <= self.layers <= 16}
        check_ranges("model", self, checks)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class ContinuousLandmarkModel(nn.Module):
    """Baseline detector: external crop + F + Q + P with a 2D head."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = (config or ModelConfig()).validate()
        c = self.config
        self.features = FeatureExtractor(c.width, c.feature_dim)
        self.queries = QueryEncoder(c.query_frequencies, c.query_dim)
        self.predictor = LandmarkPredictor2D(c.feature_dim, c.query_dim, c.hidden, c.layers)

    def forward(self, images: torch.Tensor, boxes: torch.Tensor, queries: torch.Tensor) -> dict:
        """images (B,3,H,W) uint8 or float in [0,1]; boxes (B,4) pixels; queries (K,3) or (B,K,3) canonical cm.

        Returns ``landmarks2d`` (B,K,2) image pixels, ``crop_points`` (B,K,2) normalised crop
        coordinates, and the crop ``transform`` (B,2,3).
        """
        transform = crops.box_to_transform(boxes.float(), self.config.crop_margin)
        face = crops.crop(crops.normalise_images(images), transform, self.config.crop_size)
        features = self.features(face)
        crop_points = self.predictor(features, self.queries(queries.to(features)))
        return {"landmarks2d": crops.to_image(crop_points, transform), "crop_points": crop_points,
                "transform": transform}
