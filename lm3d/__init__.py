"""lm3d: continuous 2D/3D facial landmark detection with 3D queries, built to be read.

A reproduction of "Infinite 3D Landmarks: Improving Continuous 2D Facial Landmark Detection"
(Chandran et al., 2024) and of the continuous detector it extends.

The package has the shape of the method, in layers; each folder imports only the layers below it
(``tests/test_layering.py`` parses every import and checks it):

* ``lm3d.runtime``: run-time switches (``LM3D_FAST``, the device, timing); imports nothing of lm3d;
* ``lm3d.face``: the canonical face, landmark layouts, camera conventions;
* ``lm3d.raster``: the z-buffer rasterizer and the visibility test (truth and prediction share them);
* ``lm3d.synth``: SynthFaces, synthetic faces with exact ground truth;
* ``lm3d.model``: the landmark model, one paper module per file, and its checkpoints;
* ``lm3d.inference``: ``Detector`` and ``Prediction``, image reading, face boxes;
* ``lm3d.io``: the detector on a user's files (``lm3d detect``), mesh files, dataset readers;
* ``lm3d.applications``: the 3D head's side benefits: the 3D face as a mesh, texture completion;
* ``lm3d.evaluation``: metrics and every measure on the test sets, the evaluation report;
* ``lm3d.vis``: figures and widgets;
* ``lm3d.training``: configs and presets, data, the objective, the loop, D's adaptation;
* ``lm3d.experiments``: the seeds tables;
* ``lm3d.train``, ``lm3d.evaluate``, ``lm3d.reproduce``, ``lm3d.adapt_deformer``: the commands (``python -m``).

``import lm3d`` loads the face and the detector only: no data engine, evaluation or training.
"""
from .face import CanonicalFace, Layout, LayoutAssetError, MeshAssetError, SnapResult, SurfacePoints, layouts
from .inference import Detector, Prediction

__all__ = ["CanonicalFace", "Detector", "Layout", "LayoutAssetError", "MeshAssetError", "Prediction",
           "SnapResult", "SurfacePoints", "layouts"]
__version__ = "0.1.0"
