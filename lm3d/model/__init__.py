"""lm3d.model: the detector, one module of the paper's pipeline per file.

* ``crop``: crops as affine maps between a normalised face frame and image pixels; the external crop
  around a face box (and the simulated detector's jittered boxes) of the baseline.
* ``features``: F, the image feature extractor.  ``queries``: Q, the positional encoder of 3D queries.
* ``predictor``: P, the landmark predictor (2D and 3D heads).  ``detector``: the assembled model.
* ``spatial_transformer``: S.  ``camera_head``: gamma, head pose and camera.  ``deformer``: D, the query deformer.

Imports: ``lm3d.face`` only; nothing of ``lm3d.synth`` (a model never depends on how its training data
was made) or the top of the package.
"""
from . import crop
from .detector import ContinuousLandmarkModel, ModelConfig
from .features import FeatureExtractor
from .predictor import LandmarkPredictor2D
from .queries import QueryEncoder

__all__ = ["ContinuousLandmarkModel", "FeatureExtractor", "LandmarkPredictor2D", "ModelConfig", "QueryEncoder", "crop"]
