"""lm3d.synth: SynthFaces, the synthetic data engine with exact ground truth.

* ``render``: ``SynthFaces`` (a dataset of rendered faces with 2D, 3D, pose, camera and visibility truth),
  ``render_scenes``, ``pose_scenes``, ``project_queries``; ``SYNTH_VERSION`` keys every cache.
* ``facemodel`` (identity fields, expressions, head proxy), ``scene`` (the random scene sampler),
  ``sources`` (the simulated datasets and their annotation conventions, from ``lm3d/assets/sources.json``),
  ``paint`` (textured, lit pixels), ``textures`` (the real-photo texture bank), ``appearance`` (colours, light,
  hair, backgrounds, degradations).
* ``video`` (clips for the stability metrics) and ``shards`` (cached renders on disk).
* ``uv_truth``: ``render_uv``, a face as the renderer paints it, read off in the canonical UV space (the texture
  truth that texture completion is measured against).

Imports: ``lm3d.face`` and ``lm3d.raster`` (the z-buffer and the visibility test it shares with predictions);
nothing of ``lm3d.model`` or the layers above.
"""
from . import sources
from .render import SYNTH_VERSION, SynthFaces, pose_scenes, project_queries, render_backgrounds, render_scenes

__all__ = ["SYNTH_VERSION", "SynthFaces", "pose_scenes", "project_queries", "render_backgrounds", "render_scenes",
           "sources"]
