"""lm3d.raster: geometry that SynthFaces' truth and the detector's predictions share.

* ``rasterizer``: a batched z-buffer triangle rasterizer in pure torch (covered pixels, dense buffers).
* ``visibility``: which surface points a camera sees (self-occlusion by the face's own mesh), its culling
  convention and depth tolerance.

Imports: ``lm3d.face`` only.
"""
from . import rasterizer, visibility
from .rasterizer import Covered, Fragments, rasterize, rasterize_covered
from .visibility import FRONT_FACING, visibility_tolerance, visible_points

__all__ = ["FRONT_FACING", "Covered", "Fragments", "rasterize", "rasterize_covered", "rasterizer", "visibility",
           "visibility_tolerance", "visible_points"]
