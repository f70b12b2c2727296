"""lm3d: continuous 2D/3D facial landmark detection with 3D queries, built to be read.

A reproduction of "Infinite 3D Landmarks: Improving Continuous 2D Facial Landmark Detection"
(Chandran et al., 2024) and of the continuous detector it extends.

The package has the shape of the method, in layers that import only the layers below them:

* ``lm3d.face``: the canonical face, landmark layouts, camera conventions;
* ``lm3d.synth``: SynthFaces, synthetic faces with exact ground truth (uses ``lm3d.face``);
* ``lm3d.model``: the detector, one paper module per file (uses ``lm3d.face``, never ``lm3d.synth``);
* the top: training, evaluation, metrics, inference (``Detector``), plots, widgets, reproduce.
"""
from .face import CanonicalFace, Layout, LayoutAssetError, MeshAssetError, SnapResult, SurfacePoints, layouts
from .inference import Detector, Prediction

__all__ = ["CanonicalFace", "Detector", "Layout", "LayoutAssetError", "MeshAssetError", "Prediction",
           "SnapResult", "SurfacePoints", "layouts"]
__version__ = "0.1.0"
