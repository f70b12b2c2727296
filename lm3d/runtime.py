"""Run-time switches shared by notebooks, training and tests."""
from __future__ import annotations

import os

import torch


def fast_mode() -> bool:
    """True when ``LM3D_FAST=1``: notebooks and experiments shrink data, models and steps (CI)."""
    value = os.environ.get("LM3D_FAST", "0").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"LM3D_FAST must be 0 or 1, got {value!r}")
    return value in ("1", "true", "yes")


def default_device() -> torch.device:
    """CUDA when a GPU is present, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
