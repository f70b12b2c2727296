"""lm3d.applications: what a model with a 3D head gives beyond landmarks, from one ``Prediction``.

A 3D head answers any point of the canonical surface, so asking it for every mesh vertex gives a dense face
(``Prediction.mesh3d``), and its pose and camera place that face in the image. From those:

* ``surface_colours``: the image's colour at any surface point, and whether the camera saw it (not hidden by the
  predicted face itself, inside the image, facing the camera), with its viewing cosine;
* ``reconstruction``: the 3D face as a mesh, canonical or posed in the camera frame, coloured from the image,
  written as OBJ or PLY (through ``lm3d.io.meshes``);
* ``texture``: texture completion in the canonical UV space: one image's colours (``sample_texture``), several
  frames fused (``fuse_textures``), hidden texels filled from the mirrored side of the face (``mirror_fill``).

Visibility per landmark comes with every prediction already (``lm3d.raster.visibility``). How well each of these
works is measured against SynthFaces' exact truth in ``lm3d.evaluation.applications``.

Imports: ``lm3d.runtime``, ``lm3d.face``, ``lm3d.raster``, ``lm3d.model``, ``lm3d.inference`` and ``lm3d.io``; never
SynthFaces, evaluation or training (a user's photo needs none of them).
"""
from .reconstruction import VertexColours, face_mesh, vertex_colours, write_face
from .surface_colours import SurfaceColours, surface_colours
from .texture import CompletedTexture, SampledTexture, fuse_textures, mirror_fill, sample_texture

__all__ = ["CompletedTexture", "SampledTexture", "SurfaceColours", "VertexColours", "face_mesh", "fuse_textures",
           "mirror_fill", "sample_texture", "surface_colours", "vertex_colours", "write_face"]
