"""lm3d.model: the landmark model, one module of the paper's pipeline per file, and its checkpoints.

* ``crop``: crops as affine maps between a normalised face frame and image pixels; the external crop
  around a face box (and the simulated detector's jittered boxes) of the baseline.
* ``features``: F, the image feature extractor.  ``queries``: Q, the positional encoder of 3D queries.
* ``predictor``: P, the landmark predictor (2D and 3D heads).
* ``spatial_transformer``: S.  ``camera_head``: gamma, head pose and camera.  ``deformer``: D, the query deformer.
* ``landmark_model``: ``ContinuousLandmarkModel``, the assembled model, its ``ModelConfig`` and ``VARIANTS``.
* ``checkpoint``: atomic saves, safe loads, and ``load_model`` (a checked model from a checkpoint file).

Imports: ``lm3d.face`` and ``lm3d.runtime`` only; nothing of ``lm3d.synth`` (a model never depends on how its
training data was made) or the layers above.
"""
from . import checkpoint, crop
from .checkpoint import CheckpointError, load_model
from .features import FeatureExtractor
from .landmark_model import VARIANTS, ContinuousLandmarkModel, ModelConfig
from .predictor import LandmarkPredictor2D
from .queries import QueryEncoder

__all__ = ["VARIANTS", "CheckpointError", "ContinuousLandmarkModel", "FeatureExtractor", "LandmarkPredictor2D",
           "ModelConfig", "QueryEncoder", "checkpoint", "crop", "load_model"]
