"""lm3d.io: the detector on a user's files, and the files of the datasets they bring.

* ``media``: the inputs of ``lm3d detect`` (image files, folders, videos) and video decoding (imageio-ffmpeg);
* ``records``: one image's answer as a plain record (JSON Lines, CSV rows);
* ``pts``: iBUG ``.pts`` landmark files, in lm3d's pixel convention;
* ``overlay``: landmarks drawn over images and videos (PNG, H.264 MP4);
* ``meshes``: the predicted 3D face as OBJ (with the canonical UVs) or PLY, canonical or posed;
* ``detection``: ``lm3d detect``, the job over files, folders and videos, resumable, written atomically.

Imports: ``lm3d.runtime``, ``lm3d.face``, ``lm3d.model`` (its checkpoint errors) and ``lm3d.inference`` (the
Detector); never training or evaluation.
"""
from .media import Input, gather_inputs, video_frames
from .pts import read_pts, write_pts

__all__ = ["Input", "gather_inputs", "read_pts", "video_frames", "write_pts"]
