"""Interactive widgets for notebooks: thin wrappers over pure functions and ``lm3d.plots``.

``describe_point`` does the work (snap a clicked 3D point onto the surface, report its surface
coordinates and the nearest layout points) and is tested; ``QueryPicker`` only wires it to a
plotly ``FigureWidget`` click handler and an ipywidgets text panel.
"""
from __future__ import annotations

import torch

from . import plots
from .face import CanonicalFace
from .face import layouts as layout_registry


def describe_point(face: CanonicalFace, point, layout_names=("ibug68", "wflw98")) -> dict:
    """Surface coordinates of the surface point nearest ``point`` (3,), and nearby layout points."""
    triangle, barycentric, distance = face.snap(torch.as_tensor(point, dtype=torch.float32).reshape(1, 3))
    on_surface = face.points(triangle, barycentric)[0]
    return {
        "triangle": int(triangle[0]),
        "barycentric": [float(w) for w in barycentric[0]],
        "point": [float(c) for c in on_surface],
        "snap_distance_cm": float(distance[0]),
        "nearest": {name: layout_registry.get(name).nearest(face, on_surface, 3) for name in layout_names},
    }


def format_description(index: int, info: dict) -> str:
    nearest = "; ".join(f"{name}: " + ", ".join(f"{n} ({d:.2f} cm)" for n, d in items)
                        for name, items in info["nearest"].items())
    weights = ", ".join(f"{w:.3f}" for w in info["barycentric"])
    xyz = ", ".join(f"{c:.2f}" for c in info["point"])
    return (f"<b>query {index}</b>: triangle {info['triangle']}, barycentric ({weights}), "
            f"xyz ({xyz}) cm<br>&nbsp;&nbsp;nearest {nearest}")


class QueryPicker:
    """Click on the 3D face to add query points; ``picker.queries`` holds them as surface points.

    Display it with ``picker.widget``. Each click snaps the clicked position onto the surface
    (plotly reports the clicked mesh vertex or surface position), appends it to the queries and
    lists its barycentric coordinates and the nearest ibug68 / wflw98 points.
    """

    def __init__(self, face: CanonicalFace, layout_names=("ibug68", "wflw98")):
        import ipywidgets
        import plotly.graph_objects as go

        self.face, self.layout_names, self.picked = face, layout_names, []
        figure = plots.queries_figure(face, torch.zeros(0, 3), title="Click the face to add query points")
        self.figure = go.FigureWidget(figure)
        self.log = ipywidgets.HTML("No queries yet.")
        self.clear_button = ipywidgets.Button(description="Clear queries")
        self.clear_button.on_click(lambda _: self.clear())
        self.figure.data[0].on_click(self._on_click)
        self.widget = ipywidgets.VBox([self.figure, self.clear_button, self.log])

    def add(self, point) -> dict:
        """Add the surface point nearest ``point``; what a click does, callable from code too."""
        info = describe_point(self.face, point, self.layout_names)
        self.picked.append(info)
        xyz = [p["point"] for p in self.picked]
        with self.figure.batch_update():
            self.figure.data[1].x, self.figure.data[1].y, self.figure.data[1].z = (
                [c[0] for c in xyz], [c[1] for c in xyz], [c[2] + 0.05 for c in xyz])
        self.log.value = "<br>".join(format_description(i, p) for i, p in enumerate(self.picked))
        return info

    def clear(self) -> None:
        self.picked.clear()
        with self.figure.batch_update():
            self.figure.data[1].x = self.figure.data[1].y = self.figure.data[1].z = []
        self.log.value = "No queries yet."

    @property
    def queries(self):
        """The picked queries as (triangle (K,), barycentric (K,3)) tensors."""
        triangle = torch.tensor([p["triangle"] for p in self.picked], dtype=torch.long)
        barycentric = torch.tensor([p["barycentric"] for p in self.picked], dtype=torch.float32).reshape(-1, 3)
        return triangle, barycentric

    def _on_click(self, trace, points, selector):
        for x, y, z in zip(points.xs, points.ys, points.zs):
            self.add([x, y, z])
