"""lm3d.raster: geometry that SynthFaces' truth and the detector's predictions share.

* ``rasterizer``: a batched z-buffer triangle rasterizer in pure torch (covered pixels, dense buffers).
* ``visibility``: which surface points a camera sees (self-occlusion by the face's own mesh), its culling
  convention and depth tolerance.
* ``uv_space``: ``uv_map``, the canonical face rasterised in its UV space: the surface point of each texel.

Imports: ``lm3d.face`` only.
"""
from . import rasterizer, uv_space, visibility
from .rasterizer import Covered, Fragments, rasterize, rasterize_covered
from .uv_space import UVMap, uv_map
from .visibility import FRONT_FACING, visibility_tolerance, visible_points

__all__ = ["FRONT_FACING", "Covered", "Fragments", "UVMap", "rasterize", "rasterize_covered", "rasterizer", "uv_map",
           "uv_space", "visibility", "visibility_tolerance", "visible_points"]
