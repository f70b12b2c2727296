"""lm3d.training: how a landmark model learns from SynthFaces.

* ``config``: ``TrainConfig`` (a dataclass with range checks), the size presets (``PRESETS``, ``preset``) and
  ``configure`` (a preset, a variant of the ladder, a seed and overrides).
* ``data``: the training pools (rendered once, cached as shards), batches with query subsets and box jitter,
  background-only negatives for S's face score.
* ``objective``: the loss in image pixels and the penalties that keep S, the 3D head and D honest (``Objective``).
* ``loop``: ``train`` (AdamW, warm-up and cosine decay, checkpoints and resume, DDP; ``python -m lm3d.train``).
* ``validation``: the validation curve (NME of validation faces against training seconds, in the log).
* ``adapt_deformer``: teach a trained model with D a new dataset's convention (``python -m lm3d.adapt_deformer``).

Imports: every layer below (``lm3d.face``, ``lm3d.raster``, ``lm3d.synth``, ``lm3d.model``, ``lm3d.inference``,
``lm3d.evaluation``, ``lm3d.runtime``); nothing of ``lm3d.experiments`` or ``lm3d.vis``.
"""
from . import adapt_deformer, config, data, objective
from .config import PRESETS, TrainConfig, configure, preset
from .loop import CHECKPOINT_NAME, save_checkpoint, train
from .objective import Objective

__all__ = ["CHECKPOINT_NAME", "PRESETS", "Objective", "TrainConfig", "adapt_deformer", "config", "configure", "data",
           "objective", "preset", "save_checkpoint", "train"]
