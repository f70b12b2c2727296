"""lm3d.face: the canonical face and everything defined on it (the bottom layer).

* ``canonical``: ``CanonicalFace`` (the MediaPipe mesh in centimetres, its axes) and surface points
  (triangle, barycentric) to 3D and back, snapping, sampling.
* ``layouts``: named landmark layouts (ibug68, wflw98, five, mp468, heldout) read from data.
* ``camera``: the camera and head-pose conventions: rotations, projection, intrinsics.
* ``silhouette``: cross-sections of the face, its frontal outline, and the silhouette a posed camera sees.

Imports: torch and the assets in ``lm3d/assets`` only; nothing of ``lm3d.synth``, ``lm3d.model`` or the
top of the package (``tests/test_layering.py`` checks this by parsing the imports).
"""
from . import camera, layouts, silhouette
from .canonical import ASSETS, EYE_CORNERS, CanonicalFace, MeshAssetError, SnapResult, Subdivision, SurfacePoints
from .layouts import Layout, LayoutAssetError

__all__ = ["ASSETS", "EYE_CORNERS", "CanonicalFace", "Layout", "LayoutAssetError", "MeshAssetError", "SnapResult", "Subdivision",
           "SurfacePoints", "camera", "layouts", "silhouette"]
