"""Checkpoints: written atomically, loaded safely (``weights_only=True``), checked before use.

    >>> model = load_model("runs/standard_seed0/checkpoint.pt")   # a ContinuousLandmarkModel in eval mode
    >>> model = load_model("pretrained")   # the weights that ship with lm3d (docs/model_card.md)

A checkpoint is a dict with ``format``, the model and training configs (plain dicts), the
model's state dict, and optionally optimizer/scheduler states and the step. Loading refuses
truncated files, files that are not lm3d checkpoints, and checkpoints of another model kind,
with an error that says which.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..runtime import default_device, write_atomically
from .landmark_model import ContinuousLandmarkModel, ModelConfig

CHECKPOINT_FORMAT = "lm3d.checkpoint/1"
# the name that stands for the weights shipped inside the package, wherever a checkpoint path is asked for
PRETRAINED = "pretrained"
PRETRAINED_FILE = Path(__file__).resolve().parents[1] / "assets" / "pretrained" / "lm3d_full.pt"
MODEL_KINDS = ("detector", "baseline")  # the landmark model's stored kinds ("baseline": saved before S existed)


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, truncated, corrupt or not an lm3d checkpoint."""


def save(path: str | Path, payload: dict) -> None:
    """Write ``payload`` (with our format tag) to ``path`` atomically: a crash never leaves half a file."""
    write_atomically(path, lambda temporary: torch.save({"format": CHECKPOINT_FORMAT, **payload}, temporary))


def resolve(path: str | Path) -> Path:
    """``path``, or the shipped weights' file for the name ``"pretrained"`` (unless a file of that name is here)."""
    if str(path) == PRETRAINED and not Path(path).is_file():
        if not PRETRAINED_FILE.is_file():
            raise CheckpointError(f"the pretrained weights {PRETRAINED_FILE} are missing from this install of lm3d "
                                  "(tools/export_pretrained.py writes them from a training run)")
        return PRETRAINED_FILE
    return Path(path)


def export_weights(source: str | Path, destination: str | Path, extra: dict | None = None) -> dict:
    """Write the model of the training checkpoint ``source`` to ``destination`` for shipping: no optimizer or
    scheduler state, floating-point weights in float16 (half the size; they are widened again on load), and
    ``extra`` (provenance) beside them. Returns what was written, without the weights."""
    data = load(source, kind=MODEL_KINDS)
    slim = {key: value for key, value in data.items() if key not in ("format", "optimizer", "scheduler")}
    slim["model"] = {key: value.half() if value.is_floating_point() else value for key, value in data["model"].items()}
    slim.update(extra or {})
    save(destination, slim)
    return {key: value for key, value in slim.items() if key != "model"}


def load(path: str | Path, kind: str | tuple[str, ...] | None = None, map_location="cpu") -> dict:
    """Load and check a checkpoint (a path, or ``"pretrained"``); its ``kind`` must be ``kind`` (or one of them)
    when given."""
    path = resolve(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, random bytes, a pickle with code in it, ...
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__}: {str(error)[:200]}); "
                              "it may be truncated or corrupt") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path} is not an lm3d checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})")
    for key in ("kind", "model_config", "model"):
        if key not in data:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}; it is incomplete")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds is not None and data["kind"] not in kinds:
        raise CheckpointError(f"checkpoint {path} holds a {data['kind']!r} model, expected {' or '.join(map(repr, kinds))}")
    return data


def load_model(path: str | Path, device=None):
    """The ``ContinuousLandmarkModel`` of a checkpoint, on ``device`` (default: the GPU when present), in eval mode.

    A checkpoint whose weights do not fit its own config, or whose camera head holds a broken rotation, is refused
    with :class:`CheckpointError`."""
    path = resolve(path)
    data = load(path, kind=MODEL_KINDS)
    try:
        model = ContinuousLandmarkModel(ModelConfig(**data["model_config"]))
        model.load_state_dict(data["model"])
    except (RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: weights do not fit the model config ({str(error)[:200]})") from None
    if model.camera_head is not None:
        try:
            model.camera_head.check()
        except ValueError as error:
            raise CheckpointError(f"{path}: the camera head's rotation is broken ({error})") from None
    return model.to(device or default_device()).eval()
