"""lm3d: continuous 2D/3D facial landmark detection with 3D queries, built to be read.

A reproduction of "Infinite 3D Landmarks: Improving Continuous 2D Facial Landmark Detection"
(Chandran et al., 2024) and of the continuous detector it extends.
"""
from . import layouts
from .face import CanonicalFace, MeshAssetError, SnapResult, SurfacePoints
from .inference import Detector, Prediction
from .layouts import Layout, LayoutAssetError

__all__ = ["CanonicalFace", "Detector", "Layout", "LayoutAssetError", "MeshAssetError", "Prediction",
           "SnapResult", "SurfacePoints", "layouts"]
__version__ = "0.1.0"
