"""Figures of what the 3D head gives beyond landmarks: the predicted face coloured from an image, and textures in
the canonical UV space (``lm3d.applications``). Each function returns an array or a figure and is smoke-tested;
``lm3d.vis.widgets.TextureExplorer`` only steps through them.

The face is drawn as a finer copy of the canonical mesh (``CanonicalFace.subdivide``): each of its vertices is a
surface point (triangle, barycentric), so it can be placed on any predicted dense face and given the colour of any
texture at its UV, with far more colours than the 468 vertices alone would hold. A texture is an (S,S,3) float image
in the canonical UV space, u along the columns and v down the rows (``lm3d.raster.uv_map``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ..face import CanonicalFace, SurfacePoints
from ..raster.uv_space import uv_map
from . import plots

SEGMENTS = 3  # each mesh edge cut in 3: 4096 coloured vertices instead of 468
MISSING_GREY = 0.5  # the colour of a surface point no known texel lies near
# the regions of a completed texture (seen, mirror-filled, unknown), and the texels off the face
REGION_COLOURS = {"seen": (0.20, 0.63, 0.17), "mirror-filled": (1.00, 0.50, 0.05), "unknown": (0.0, 0.0, 0.0),
                  "off the face": (1.0, 1.0, 1.0)}
FRONT_VIEW = {"up": {"x": 0, "y": 1, "z": 0}, "eye": {"x": 0.35, "y": 0.15, "z": 1.9}}  # canonical axes: y up, z out


class SurfaceMesh(NamedTuple):
    """A finer mesh on a (predicted) face: ``points`` (N,3) cm, ``triangles`` (T,3), each vertex's ``uv`` (N,2) in
    the canonical UV space and its ``surface`` point (triangle, barycentric) on the canonical face."""

    points: torch.Tensor
    triangles: torch.Tensor
    uv: torch.Tensor
    surface: SurfacePoints


@lru_cache(maxsize=4)
def _subdivision(segments: int):
    return CanonicalFace.load().subdivide(segments)


def surface_mesh(vertices, segments: int = SEGMENTS) -> SurfaceMesh:
    """The canonical face cut ``segments`` times finer, placed on a dense face's (V,3) vertices (a prediction's
    ``mesh3d``, canonical cm, or posed in the camera frame): each new vertex is the same barycentric mix of its
    triangle's corners, as every surface point is."""
    face = CanonicalFace.load()
    vertices = torch.as_tensor(vertices, dtype=torch.float32)
    if vertices.shape != face.vertices.shape:
        raise ValueError(f"a dense face has {tuple(face.vertices.shape)} vertices, got {tuple(vertices.shape)}")
    fine = _subdivision(segments)
    corners = face.triangles[fine.surface.triangle]  # (N,3)
    weights = fine.surface.barycentric[..., None]
    return SurfaceMesh((vertices[corners] * weights).sum(1), fine.triangles, (face.uvs[corners] * weights).sum(1),
                       fine.surface)


def texture_colours(texture: torch.Tensor, known: torch.Tensor, uv: torch.Tensor,
                    missing: float = MISSING_GREY) -> torch.Tensor:
    """(N,3) colours of a texture (S,S,3) at UVs (N,2): the bilinear mean of the ``known`` (S,S) texels near each UV
    only (a texel that holds no colour does not darken its neighbours), ``missing`` where none is known."""
    stacked = torch.cat([texture.float() * known[..., None], known[..., None].float()], -1).permute(2, 0, 1)[None]
    grid = (2 * torch.as_tensor(uv, dtype=torch.float32) - 1)[None, None]  # texel centres at (j + 0.5) / S
    sampled = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, :, 0].t()
    support = sampled[:, 3:]
    return torch.where(support > 1e-6, sampled[:, :3] / support.clamp_min(1e-12), missing).clamp(0, 1)


def texture_picture(texture: torch.Tensor, known: torch.Tensor | None = None) -> np.ndarray:
    """An (S,S,3) uint8 picture of a texture: its colour where ``known`` (default: everywhere on the face), black on
    the face where not known (as ``mirror_fill`` leaves an unknown texel), white off the face."""
    size = texture.shape[0]
    covered = uv_map(size).covered
    known = covered if known is None else known & covered
    picture = torch.where(known[..., None], texture.float().clamp(0, 1), 0.0)
    picture = torch.where(covered[..., None], picture, 1.0)
    return (picture * 255).round().to(torch.uint8).numpy()


def regions_picture(observed: torch.Tensor, filled: torch.Tensor | None = None) -> np.ndarray:
    """An (S,S,3) uint8 map of a texture's regions in ``REGION_COLOURS``: seen (``observed``), mirror-filled
    (``filled``), unknown (the rest of the face), off the face."""
    covered = uv_map(observed.shape[0]).covered
    filled = torch.zeros_like(observed) if filled is None else filled
    picture = torch.empty(*observed.shape, 3)
    for mask, name in ((~covered, "off the face"), (covered, "unknown"), (covered & filled, "mirror-filled"),
                       (covered & observed, "seen")):
        picture[mask] = torch.tensor(REGION_COLOURS[name])
    return (picture * 255).round().to(torch.uint8).numpy()


def _rgb_strings(colours) -> list[str]:
    values = np.round(np.clip(plots._numpy(colours), 0, 1) * 255).astype(int)
    return [f"rgb({r},{g},{b})" for r, g, b in values]


def coloured_face_trace(points, triangles, colours, name: str = "face") -> go.Mesh3d:
    """A mesh (N,3) points, (T,3) triangles with one colour (N,3) in [0, 1] per vertex."""
    p, t = plots._numpy(points), plots._numpy(triangles)
    return go.Mesh3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], i=t[:, 0], j=t[:, 1], k=t[:, 2], vertexcolor=_rgb_strings(colours),
                     name=name, flatshading=False, showlegend=False, hoverinfo="skip",
                     lighting={"ambient": 0.75, "diffuse": 0.35, "specular": 0.05, "roughness": 0.9})


def coloured_face_figure(meshes: dict, title: str = "", camera_frame: bool = False, height: int = 480) -> go.Figure:
    """One 3D scene of coloured faces, ``{name: (points, triangles, colours)}``; in canonical axes (x to the subject's
    left, y up, z out of the face; seen from the front), or in the camera frame (``camera_frame``: OpenCV axes,
    seen from behind the camera, as ``lm3d.vis.plots_3d`` draws it)."""
    from .plots_3d import SCENE_CAMERA

    figure = go.Figure([coloured_face_trace(*mesh, name=name) for name, mesh in meshes.items()])
    axes = ({"xaxis_title": "x", "yaxis_title": "y (down)", "zaxis_title": "z (depth)"} if camera_frame else
            {"xaxis_title": "x (subject's left)", "yaxis_title": "y (up)", "zaxis_title": "z (out of the face)"})
    figure.update_layout(title=title, height=height, margin={"l": 0, "r": 0, "t": 40, "b": 0},
                         scene={"aspectmode": "data", "camera": SCENE_CAMERA if camera_frame else FRONT_VIEW, **axes})
    return figure


def texture_frame_view(image, mesh: tuple, texture: np.ndarray, title: str = "") -> go.Figure:
    """A clip frame (H,W,3) uint8, its predicted face coloured by the texture so far (``mesh`` = (points, triangles,
    colours), canonical axes) and that texture as a picture (``texture_picture``), side by side."""
    figure = make_subplots(1, 3, specs=[[{"type": "xy"}, {"type": "scene"}, {"type": "xy"}]],
                           column_widths=[0.3, 0.4, 0.3],
                           subplot_titles=("the frame", "its face, coloured by the texture so far", "the texture so far"))
    figure.update_annotations(font_size=12)
    figure.add_trace(go.Image(z=plots._numpy(image), hoverinfo="skip", name="frame"), 1, 1)
    figure.add_trace(coloured_face_trace(*mesh, name="predicted face"), 1, 2)
    figure.add_trace(go.Image(z=texture, hoverinfo="skip", name="texture"), 1, 3)
    for column in (1, 3):
        figure.update_xaxes(showticklabels=False, showgrid=False, row=1, col=column)
        figure.update_yaxes(showticklabels=False, showgrid=False, scaleanchor="x" if column == 1 else "x2", row=1,
                            col=column)
    figure.update_layout(title=title, height=400, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                         scene={"aspectmode": "data", "camera": FRONT_VIEW, "xaxis_visible": False,
                                "yaxis_visible": False, "zaxis_visible": False})
    return figure


__all__ = ["REGION_COLOURS", "SurfaceMesh", "coloured_face_figure", "coloured_face_trace", "regions_picture",
           "surface_mesh", "texture_colours", "texture_frame_view", "texture_picture"]
