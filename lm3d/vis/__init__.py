"""lm3d.vis: figures and widgets. Plot functions return figures; widgets are thin wrappers over them.

* ``plots``: the canonical face, layouts and queries (plotly 3D, matplotlib 2D), RoIs over time, learning curves,
  an offline animation player.
* ``plots_3d``: the 3D head's figures: pose, camera frustum, predicted dense face.
* ``textures``: the applications' figures: the predicted face coloured from an image, textures in the UV space.
* ``widgets``: the query picker (click points on the face), the pose explorer and the texture explorer.
* ``results``: the figures of the results tables: CED curves per rung, jitter bars, pose error by yaw.

Imports: ``lm3d.face``, ``lm3d.raster``, ``lm3d.model``, ``lm3d.inference``, ``lm3d.applications`` and ``lm3d.runtime``; never
``lm3d.synth``, ``lm3d.evaluation`` or ``lm3d.training`` (a figure draws what it is given).
"""
from . import plots, plots_3d, results, textures, widgets

__all__ = ["plots", "plots_3d", "results", "textures", "widgets"]
