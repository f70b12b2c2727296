"""Plots of the canonical face, its layouts and query points.

Every function returns a figure (plotly ``go.Figure`` for interactive 3D, matplotlib ``Figure``
for static views) and draws nothing by itself; notebooks call ``fig.show()`` and widgets wrap
these functions. Canonical axes (see ``lm3d.face``): x to the subject's left, y up, z towards
the viewer, so the default camera looks down -z at a frontal face.
"""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import torch

from ..face import CanonicalFace, Layout, Subdivision

FRONT_CAMERA = dict(eye=dict(x=0.0, y=0.0, z=2.2), up=dict(x=0.0, y=1.0, z=0.0))
SKIN = "#e8c4a8"
GROUP_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                 "#e377c2", "#bcbd22", "#7f7f7f", "#393b79"]


def use_offline_renderer() -> None:
    """Show plotly figures both live in Jupyter and in exported HTML, with no network.

    JupyterLab renders the plotly mimetype; the HTML that ``make reproduce`` writes uses the
    ``notebook`` output, which embeds plotly.js once instead of fetching it from a CDN.
    """
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype+notebook"


# matplotlib's HTML player asks a CDN for Font Awesome icons; the same buttons drawn with unicode glyphs instead
_PLAYER_ICONS = {"fa-minus": "\u2212", "fa-fast-backward": "\u23ee", "fa-step-backward": "\u23f4\u2759",
                 "fa-play.fa-flip-horizontal": "\u25c0", "fa-pause": "\u23f8", "fa-play": "\u25b6",
                 "fa-step-forward": "\u2759\u23f5", "fa-fast-forward": "\u23ed", "fa-plus": "+"}


def animation_player(animation, **to_jshtml) -> str:
    """A matplotlib animation as a self-contained HTML player that fetches nothing from the network.

    ``Animation.to_jshtml`` links a Font Awesome stylesheet on a CDN for its button icons; offline that
    request fails and the buttons are blank. We drop the link and draw the icons as unicode glyphs.
    """
    player = animation.to_jshtml(**to_jshtml)
    player = re.sub(r"<link[^>]*font-awesome[^>]*>", "", player)
    rules = "".join(f".anim-buttons .fa.{name}:before {{content: '{glyph}';}}" for name, glyph in _PLAYER_ICONS.items())
    style = f"<style>.anim-buttons .fa {{font-style: normal;}} .fa-flip-horizontal {{transform: none;}} {rules}</style>"
    return style + player


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def mesh_trace(face: CanonicalFace, colour: str = SKIN, opacity: float = 1.0, name: str = "face",
               mesh: Subdivision | None = None) -> go.Mesh3d:
    """The face as a plotly mesh (or a finer ``mesh`` of it, from ``face.subdivide``).

    ``hoverinfo="none"`` hides the hover label but keeps the trace clickable: plotly.js sends no click
    or hover events at all for a ``"skip"`` trace, which silently breaks any widget listening to it.
    """
    source = mesh if mesh is not None else face
    v, t = _numpy(source.vertices).astype(np.float32), _numpy(source.triangles).astype(np.int32)
    return go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=t[:, 0], j=t[:, 1], k=t[:, 2], color=colour,
                     opacity=opacity, name=name, flatshading=False, hoverinfo="none",
                     lighting=dict(ambient=0.55, diffuse=0.7, specular=0.1, roughness=0.9),
                     lightposition=dict(x=0, y=50, z=200))


def points_trace(points, names=None, colour: str = "#1f77b4", size: int = 4, name: str = "points",
                 offset: float = 0.05) -> go.Scatter3d:
    """Scatter of 3D points, nudged ``offset`` cm towards the viewer so the mesh does not hide them."""
    p = _numpy(points).reshape(-1, 3) + np.array([0.0, 0.0, offset])
    return go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", name=name,
                        marker=dict(size=size, color=colour), text=names,
                        hovertemplate="%{text}<extra></extra>" if names is not None else None)


def polyline(segments) -> tuple[list, list, list]:
    """(N,2,3) segments as the x, y, z lists of one line trace, each segment followed by a gap (None)."""
    xyz = [[], [], []]
    for a, b in _numpy(segments):
        for axis in range(3):
            xyz[axis] += [a[axis], b[axis], None]
    return xyz[0], xyz[1], xyz[2]


def edges_trace(points, edges, colour: str = "#333333", name: str = "edges", offset: float = 0.05) -> go.Scatter3d:
    """All ``edges`` (pairs of indices into ``points``) as one line trace, separated by gaps."""
    p = _numpy(points).reshape(-1, 3) + np.array([0.0, 0.0, offset])
    xs, ys, zs = polyline(p[np.asarray(edges, dtype=np.int64).reshape(-1, 2)])
    return go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", name=name,
                        line=dict(color=colour, width=2), hoverinfo="skip")


def _scene_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, scene=dict(aspectmode="data", camera=FRONT_CAMERA,
                                              xaxis_title="x (cm)", yaxis_title="y (cm)", zaxis_title="z (cm)"),
                      margin=dict(l=0, r=0, t=40, b=0), height=520, legend=dict(itemsizing="constant"))
    return fig


def mesh_figure(face: CanonicalFace, title: str = "Canonical face", wireframe: bool = False) -> go.Figure:
    """The canonical mesh in 3D (optionally with its triangle edges)."""
    fig = go.Figure([mesh_trace(face)])
    if wireframe:
        edges = {tuple(sorted(e)) for t in face.triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
        fig.add_trace(edges_trace(face.vertices, sorted(edges), colour="#8a6d5a", name="triangle edges", offset=0.01))
    return _scene_layout(fig, title)


def layout_figure(face: CanonicalFace, layout: Layout, show_edges: bool = True, size: int = 4) -> go.Figure:
    """A layout on the 3D mesh: one colour per group, drawing edges, point names on hover."""
    points = layout.points(face)
    fig = go.Figure([mesh_trace(face, opacity=0.9)])
    if show_edges and layout.edges and len(layout.edges) < 500:
        fig.add_trace(edges_trace(points, layout.edges))
    groups = list(dict.fromkeys(layout.groups))
    for g, group in enumerate(groups):
        ids = layout.group_indices(group)
        labels = [f"{i}: {layout.names[i]}" for i in ids]
        fig.add_trace(points_trace(points[ids], labels, GROUP_COLOURS[g % len(GROUP_COLOURS)], size, name=group))
    return _scene_layout(fig, f"{layout.name}: {len(layout)} points")


def queries_figure(face: CanonicalFace, points, names=None, title: str = "Query points",
                   mesh: Subdivision | None = None) -> go.Figure:
    """Arbitrary 3D query points (K,3) on the mesh (drawn from a finer ``mesh`` of it when given)."""
    fig = go.Figure([mesh_trace(face, opacity=0.9, mesh=mesh), points_trace(points, names, "#d62728", 5, "queries")])
    # keep the user's camera when the figure is updated (a widget adding points must not reset the view)
    return _scene_layout(fig, title).update_layout(uirevision="queries")


def layout_views(face: CanonicalFace, layout: Layout, numbers: bool = True, size: float = 6.0):
    """Static front and side (orthographic) views of a layout on the mesh, with point numbers.

    The front view looks down -z (the subject's right on the image's left, as in a photo); the
    side view looks at the subject's right cheek (down +x), nose to the right. Points on
    surfaces that face away from the viewer are drawn hollow.
    """
    vertices, points = _numpy(face.vertices), _numpy(layout.points(face))
    figure, axes = plt.subplots(1, 2, figsize=(2 * size, size * 1.05))
    views = [("front", 0, 1, 2), ("right side", 2, 1, 0)]  # (title, horizontal, vertical, depth axis)
    for axis, (title, h, v, depth) in zip(axes, views):
        sign = -1.0 if depth == 0 else 1.0  # the side view looks from -x: nearer means smaller x
        axis.triplot(vertices[:, h], vertices[:, v], _numpy(face.triangles), color="#c8b0a0", lw=0.4)
        ph = points[:, h]
        facing = _facing(face, layout, depth, sign)
        axis.scatter(ph[facing], points[facing, v], s=14, c="#d62728", zorder=3)
        axis.scatter(ph[~facing], points[~facing, v], s=14, facecolors="none", edgecolors="#d62728", zorder=3)
        for a, b in layout.edges if len(layout.edges) < 500 else []:
            axis.plot([ph[a], ph[b]], [points[a, v], points[b, v]], color="#1f3f7f", lw=0.8, zorder=2)
        if numbers and len(layout) <= 100:
            for i, (x, y) in enumerate(zip(ph, points[:, v])):
                axis.annotate(str(i), (x, y), fontsize=6.5, xytext=(2, 2), textcoords="offset points")
        axis.set_aspect("equal")
        axis.set_title(f"{layout.name} ({len(layout)} points): {title}")
        axis.set_axis_off()
    figure.tight_layout()
    return figure


def _facing(face: CanonicalFace, layout: Layout, depth_axis: int, sign: float) -> np.ndarray:
    """Which layout points face the viewer of an orthographic view along ``depth_axis``."""
    normals = face.triangle_normals()[layout.triangle]
    return _numpy(sign * normals[:, depth_axis] > 0)


ROI_COLOURS = {"truth": "#333333", "simulated detector": "#1f77b4", "MTCNN": "#ff7f0e", "LBP": "#9467bd",
               "S similarity": "#d62728", "S affine": "#2ca02c"}


def roi_corners(transforms) -> np.ndarray:
    """(T,4,2) image positions of the crop corners (top-left, top-right, bottom-right, bottom-left)."""
    transforms = _numpy(transforms).reshape(-1, 2, 3)
    unit = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    return unit @ transforms[:, :, :2].transpose(0, 2, 1) + transforms[:, None, :, 2]


def roi_trajectories(rois: dict, title: str = "RoI corners over time"):
    """The paper's Fig. 4: each RoI's top-left and bottom-right corner (x and y) against the frame.

    ``rois`` maps a name to (T,2,3) crop transforms (``lm3d.model.crop`` convention), or to None for a
    frame range where that detector found nothing (missing frames are NaN and left as gaps).
    """
    figure, axes = plt.subplots(2, 2, figsize=(11, 5.5), sharex=True)
    labels = [("top-left x", 0, 0), ("top-left y", 0, 1), ("bottom-right x", 2, 0), ("bottom-right y", 2, 1)]
    for axis, (label, corner, coordinate) in zip(axes.flat, labels):
        for name, transforms in rois.items():
            corners = roi_corners(transforms)
            axis.plot(corners[:, corner, coordinate], lw=1.4 if name != "truth" else 1.0,
                      ls="--" if name == "truth" else "-", color=ROI_COLOURS.get(name), label=name)
        axis.set_ylabel(f"{label} (px)")
    for axis in axes[1]:
        axis.set_xlabel("frame")
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def roi_frames(images, rois: dict, frames, title: str = "RoIs on frames"):
    """Frames of a clip (T,3,H,W uint8) with every RoI drawn on them, one panel per chosen frame."""
    frames = list(frames)
    figure, axes = plt.subplots(1, len(frames), figsize=(3 * len(frames), 3.2))
    for axis, frame in zip(np.atleast_1d(axes), frames):
        axis.imshow(_numpy(images[frame]).transpose(1, 2, 0))
        for name, transforms in rois.items():
            corners = roi_corners(transforms)[frame]
            closed = np.vstack([corners, corners[:1]])
            axis.plot(closed[:, 0], closed[:, 1], color=ROI_COLOURS.get(name), lw=1.2, ls="--" if name == "truth" else "-",
                      label=name)
        axis.set_title(f"frame {frame}")
        axis.set_axis_off()
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def learning_curves(logs: dict, title: str = "learning curves"):
    """Training loss against step, one line per run: ``logs`` maps a label to a training log's entries (each a dict
    with ``step`` and ``loss``, as ``lm3d.training.loop`` writes them)."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, entries in logs.items():
        entries = [e for e in entries if "loss" in e]  # a log also holds validation-curve lines
        if entries:
            axis.plot([e["step"] for e in entries], [e["loss"] for e in entries], label=label, lw=1)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss (pixel error / IOD)")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def validation_curves(logs: dict, title: str = "validation NME against training time"):
    """Validation NME against training minutes, one line per run: ``logs`` maps a label to a training log's entries
    (its ``val_nme`` lines, as ``lm3d.training.validation`` writes them, give the points)."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, entries in logs.items():
        points = [(e["train_seconds"] / 60, e["val_nme"]) for e in entries if "val_nme" in e]
        if points:
            axis.plot(*zip(*points), marker="o", ms=3, label=label, lw=1)
    axis.set_yscale("log")
    axis.set_xlabel("training minutes (one CPU core)")
    axis.set_ylabel("synth300w validation NME (% IOD)")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure
