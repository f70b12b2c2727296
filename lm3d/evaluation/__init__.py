"""lm3d.evaluation: how good a model is, measured on SynthFaces' test sets with exact truth.

* ``metrics``: NME, FR, AUC, rotation, focal, 3D and visibility errors.  ``stability``: jitter on clips.
* ``test_sets``: the fixed test faces every measure reads, and which faces a box model's face finder found.
* ``landmarks``: NME per source and subset, held-out queries.  ``pose``: the 3D head against the exact truth.
* ``video``: stability on fixed test clips.  ``conventions``: D against the true annotation conventions.
* ``visibility``: visibility per landmark group.  ``applications``: the dense 3D face and texture completion
  (``lm3d.applications``) against the exact truth, beside the template and the true geometry.
* ``report``: ``evaluate_checkpoint``, every measure as one JSON report (``python -m lm3d.evaluate``).

Imports: ``lm3d.face``, ``lm3d.raster``, ``lm3d.synth``, ``lm3d.model``, ``lm3d.inference``, ``lm3d.io``,
``lm3d.applications`` and ``lm3d.runtime``; nothing of ``lm3d.training``, ``lm3d.experiments`` or ``lm3d.vis``.
"""
from . import conventions, landmarks, metrics, pose, stability, test_sets, video
from .landmarks import evaluate_heldout, evaluate_source, own_dataset
from .report import EVALUATION_VERSION, evaluate_checkpoint
from .test_sets import EVAL_SOURCES, found_faces, test_faces

__all__ = ["EVALUATION_VERSION", "EVAL_SOURCES", "conventions", "evaluate_checkpoint", "evaluate_heldout",
           "evaluate_source", "found_faces", "landmarks", "metrics", "own_dataset", "pose", "stability", "test_faces",
           "test_sets", "video"]
