"""Figures of the 3D head: the predicted face in the camera's 3D frame, the image with its landmarks and mesh,
pose over time. Each function returns a figure (plotly, or matplotlib for the static mesh overlay) and is
smoke-tested; ``lm3d.vis.widgets.PoseExplorer`` only steps through them.

Coordinates are the camera frame of ``lm3d.face.camera`` (OpenCV: x right, y down, z forward, cm). The 3D
scene keeps them as they are and turns plotly's view so that image "up" (-y) is up and we look along +z
from behind the camera, as the camera does.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..face import CanonicalFace, camera
from . import plots

AXIS_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")  # the head's x (its left), y (up), z (out of the face)
VISIBLE, HIDDEN = "#2ca02c", "#d62728"
SCENE_CAMERA = {"up": {"x": 0, "y": -1, "z": 0}, "eye": {"x": 0.9, "y": -0.7, "z": -1.6}}


_np = plots._numpy  # (one conversion to numpy for both plot modules)


def mesh_edges(triangles) -> np.ndarray:
    """(E,2) the unique edges of a triangle list."""
    t = _np(triangles)
    edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    return np.unique(edges, axis=0)


def posed_mesh_trace(vertices, rotation, translation, face: CanonicalFace, colour: str = "#e0b8a0",
                     opacity: float = 0.9, name: str = "predicted face") -> go.Mesh3d:
    """The canonical mesh with these (V,3) vertices, posed into the camera frame."""
    posed = _np(camera.to_camera(torch.as_tensor(vertices, dtype=torch.float32)[None],
                                 torch.as_tensor(rotation, dtype=torch.float32)[None],
                                 torch.as_tensor(translation, dtype=torch.float32)[None])[0])
    t = _np(face.triangles)
    return go.Mesh3d(x=posed[:, 0], y=posed[:, 1], z=posed[:, 2], i=t[:, 0], j=t[:, 1], k=t[:, 2], color=colour,
                     opacity=opacity, name=name, flatshading=False, lighting={"ambient": 0.6, "diffuse": 0.6},
                     showlegend=True, hoverinfo="skip")


def frustum_trace(intrinsics, image_size: tuple[int, int], depth: float, name: str = "camera") -> go.Scatter3d:
    """The camera's viewing pyramid: the optical centre to the image's corners at ``depth`` cm."""
    height, width = image_size
    corners = torch.tensor([[[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]]])
    far = _np(camera.unproject(corners, torch.full((1, 4), float(depth)), torch.as_tensor(intrinsics)[None].float())[0])
    segments = [(np.zeros(3), c) for c in far] + [(far[i], far[(i + 1) % 4]) for i in range(4)]
    xs, ys, zs = plots.polyline(np.array(segments))
    return go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line={"color": "#555", "width": 2}, name=name, hoverinfo="skip")


def pose_axes_traces(rotation, translation, length: float = 8.0, name: str = "head pose", dash: str = "solid") -> list:
    """The head's canonical x, y, z axes from its origin, in the camera frame (red, green, blue)."""
    origin = _np(translation)
    axes = _np(torch.as_tensor(rotation).float() @ camera.CANONICAL_TO_CAMERA)  # columns: the head's axes
    traces = []
    for i, colour in enumerate(AXIS_COLOURS):
        end = origin + length * axes[:, i]
        traces.append(go.Scatter3d(x=[origin[0], end[0]], y=[origin[1], end[1]], z=[origin[2], end[2]], mode="lines",
                                   line={"color": colour, "width": 6, "dash": dash}, name=f"{name} {'xyz'[i]}",
                                   showlegend=i == 0, legendgroup=name, hoverinfo="skip"))
    return traces


def head_3d_traces(pose: dict, image_size: tuple[int, int], face: CanonicalFace, truth: dict | None = None) -> list:
    """Traces of the 3D view: predicted dense face, its landmarks, pose axes, the frustum; the true pose dashed.

    ``pose``: ``dense3d`` (V,3) and ``landmarks3d`` (K,3) canonical cm, ``rotation``, ``translation``,
    ``intrinsics`` (one image's, as ``lm3d.Prediction`` has them). ``truth``: ``rotation`` and ``translation``.
    """
    traces = [posed_mesh_trace(pose["dense3d"], pose["rotation"], pose["translation"], face)]
    points = _np(camera.to_camera(torch.as_tensor(pose["landmarks3d"]).float()[None],
                                  torch.as_tensor(pose["rotation"]).float()[None],
                                  torch.as_tensor(pose["translation"]).float()[None])[0])
    colours = [VISIBLE if v else HIDDEN for v in _np(pose["visible"])] if "visible" in pose else VISIBLE
    traces.append(go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers", name="landmarks",
                               marker={"size": 3, "color": colours}, hoverinfo="skip"))
    traces += pose_axes_traces(pose["rotation"], pose["translation"])
    if truth is not None:
        traces += pose_axes_traces(truth["rotation"], truth["translation"], name="true pose", dash="dash")
    depth = float(_np(pose["translation"])[2]) * 1.15
    traces.append(frustum_trace(pose["intrinsics"], image_size, depth))
    return traces


def image_traces(image, landmarks2d, visible=None, mesh2d=None, edges=None) -> list:
    """An (H,W,3) uint8 image, its landmarks (visible green, hidden red) and optionally a projected mesh."""
    traces = [go.Image(z=_np(image), hoverinfo="skip")]
    if mesh2d is not None:
        m = _np(mesh2d)
        segments = np.concatenate([m[edges], np.zeros((len(edges), 2, 1))], -1)
        xs, ys, _ = plots.polyline(segments)
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(255,255,255,0.45)", "width": 1},
                                 name="predicted mesh", hoverinfo="skip"))
    points = _np(landmarks2d)
    colours = [VISIBLE if v else HIDDEN for v in _np(visible)] if visible is not None else VISIBLE
    traces.append(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name="landmarks 2D",
                             marker={"size": 5, "color": colours, "line": {"color": "white", "width": 0.5}}))
    return traces


def pose_view(image, pose: dict, face: CanonicalFace, truth: dict | None = None, title: str = "") -> go.Figure:
    """The image with landmarks and mesh (left) beside the predicted face, pose and camera in 3D (right)."""
    height, width = _np(image).shape[:2]
    fig = make_subplots(1, 2, specs=[[{"type": "xy"}, {"type": "scene"}]], column_widths=[0.45, 0.55],
                        subplot_titles=("image, landmarks (hidden: red), predicted mesh", "camera frame (cm)"))
    for trace in image_traces(image, pose["landmarks2d"], pose.get("visible"), pose.get("dense2d"),
                              mesh_edges(face.triangles) if "dense2d" in pose else None):
        fig.add_trace(trace, 1, 1)
    for trace in head_3d_traces(pose, (height, width), face, truth):
        fig.add_trace(trace, 1, 2)
    fig.update_xaxes(range=[0, width], showgrid=False, row=1, col=1)
    fig.update_yaxes(range=[height, 0], showgrid=False, scaleanchor="x", row=1, col=1)
    fig.update_layout(title=title, height=460, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      scene={"aspectmode": "data", "camera": SCENE_CAMERA, "xaxis_title": "x", "yaxis_title": "y (down)",
                             "zaxis_title": "z (depth)"}, legend={"orientation": "h", "y": -0.05})
    return fig


def pose_over_time(predicted: dict, truth: dict | None = None, frame: int | None = None,
                   title: str = "head pose over a clip") -> go.Figure:
    """Yaw, pitch and roll (degrees) per frame, predicted (solid) against the truth (dotted); ``frame`` marked."""
    fig = go.Figure()
    for name, colour in zip(("yaw", "pitch", "roll"), AXIS_COLOURS[::-1]):
        values = _np(predicted[name])
        fig.add_trace(go.Scatter(y=values, mode="lines", name=f"{name}", line={"color": colour}))
        if truth is not None:
            fig.add_trace(go.Scatter(y=_np(truth[name]), mode="lines", name=f"{name} (truth)",
                                     line={"color": colour, "dash": "dot"}))
    if frame is not None:
        fig.add_vline(x=frame, line={"color": "#888", "dash": "dash"})
    fig.update_layout(title=title, xaxis_title="frame", yaxis_title="degrees", height=300,
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def mesh_overlay(ax, image, mesh2d, face: CanonicalFace, colour: str = "white", alpha: float = 0.6):
    """The paper's Fig. 5 on a matplotlib axis: the predicted dense face projected onto the image, as a wireframe."""
    m = _np(mesh2d)
    ax.imshow(_np(image))
    ax.triplot(m[:, 0], m[:, 1], _np(face.triangles), color=colour, lw=0.4, alpha=alpha)
    height, width = _np(image).shape[:2]
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return ax


def offset_arrows(face: CanonicalFace, points, offsets: dict, scale: float = 3.0,
                  title: str = "query offsets on the canonical face") -> go.Figure:
    """The canonical face with each query's offset drawn from its point, one colour per set of offsets (e.g. D's
    learned ones against the true convention), lengthened ``scale`` times so that millimetres show."""
    fig = go.Figure([plots.mesh_trace(face, opacity=0.35)])
    p = _np(points)
    colours = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")
    for (name, offset), colour in zip(offsets.items(), colours):
        xs, ys, zs = plots.polyline(np.stack([p, p + scale * _np(offset)], 1))
        fig.add_trace(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line={"color": colour, "width": 5},
                                   name=f"{name} (x{scale:g})", hoverinfo="skip"))
    fig.add_trace(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", marker={"size": 2, "color": "#333"},
                               name="queries", hoverinfo="skip"))
    fig.update_layout(title=title, height=520, margin={"l": 0, "r": 0, "t": 40, "b": 0},
                      scene={"aspectmode": "data", "camera": {"eye": {"x": 0.0, "y": 0.2, "z": 2.0}}})
    return fig
