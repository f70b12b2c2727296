"""lm3d.inference: the detector a user runs on images, and nothing of how it was trained or measured.

* ``detector``: ``Detector`` (load a checkpoint, predict any layout or query set, the 3D head's pose, camera and
  visibility) and ``Prediction`` (what it answers).
* ``images``: reading every accepted image form into one uint8 RGB array, with clear errors.
* ``face_boxes``: face boxes for a box model: ``LBPFaceFinder`` (scikit-image's LBP cascade), the simulated
  detector's jittered true boxes, a peer finder's box file; ``face_boxes`` gives evaluation one interface to them.
* ``predict``: ``predict_batches``, a model's answers over a tensor of images, in batches.
* ``filters``: ``OneEuroFilter`` and ``one_euro``, smoothing landmarks (or any per-frame array) over video frames.

Imports: ``lm3d.face``, ``lm3d.raster``, ``lm3d.model`` and ``lm3d.runtime``; never ``lm3d.synth``,
``lm3d.evaluation`` or ``lm3d.training`` (``import lm3d`` to run a detector loads no data engine).
"""
from .detector import Detector, Prediction
from .face_boxes import BOX_SEED, LBPFaceFinder, box_from_landmarks, face_boxes
from .filters import OneEuroFilter, one_euro
from .images import read_image
from .predict import dataset_codes, predict_batches

__all__ = ["BOX_SEED", "Detector", "LBPFaceFinder", "OneEuroFilter", "Prediction", "box_from_landmarks", "dataset_codes",
           "face_boxes", "one_euro", "predict_batches", "read_image"]
