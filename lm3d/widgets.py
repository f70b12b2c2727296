"""Interactive widgets for notebooks: thin wrappers over pure functions and ``lm3d.plots``.

``describe_point`` does the work (where a surface point is, and the nearest layout points) and is
tested; ``QueryPicker`` wires it to a plotly ``FigureWidget`` click handler and an ipywidgets panel.
The browser test (``make test-browser``) clicks the picker in a real JupyterLab.
"""
from __future__ import annotations

import html
import traceback
from copy import deepcopy
from pathlib import Path

import torch

from . import plots
from .face import CanonicalFace
from .face import layouts as layout_registry

PICK_SEGMENTS = 4  # each mesh edge cut in 4: picks land within about 0.2 cm of the click (mean edge 0.9 cm)
PANEL_HEIGHT = "9em"  # the query list scrolls past about five queries


def describe_point(face: CanonicalFace, point=None, layout_names=("ibug68", "wflw98"), surface=None) -> dict:
    """A surface point, its 3D position and its nearest layout points.

    Give either ``surface`` = (triangle, barycentric), an exact surface point, or ``point`` (3,), any 3D
    point, which is snapped onto the surface first (``snap_distance_cm`` says how far it moved).
    """
    if (point is None) == (surface is None):
        raise ValueError("pass exactly one of point= (a 3D point) or surface= (triangle, barycentric)")
    if surface is not None:
        triangle, barycentric = face.check_surface_points(torch.as_tensor(surface[0]).reshape(1),
                                                          torch.as_tensor(surface[1]).reshape(1, 3))
        distance = torch.zeros(1)
    else:
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

    Display it with ``picker.widget``. How a click becomes a surface point: plotly reports a click on a
    mesh as the index of the clicked triangle's vertex nearest the cursor, never the position on the
    triangle. So the face is drawn as a finer copy of itself (``CanonicalFace.subdivide``, each edge cut
    in ``segments``), whose every vertex is a known surface point (triangle, barycentric) of the
    canonical face. A click therefore adds an exact surface point within about a fifth of a centimetre
    of the cursor, mostly strictly inside a triangle, and the face still turns and zooms in 3D. (Casting
    the ray ourselves would need the camera of the live view, which plotly does not send to Python.)

    The panel lists the queries (it scrolls), shows any error of the click handler in red, and names the
    custom layout the queries can be saved as: ``picker.to_layout("my_points")`` or the Save button
    (which also registers it, so ``Detector.predict(image, layout="my_points")`` works at once).

    Reloading the page redraws the figure from the kernel's copy of it, which the picker keeps up to date,
    so the view and the panel agree. After a kernel restart the old widget is dead: run its cell again.
    """

    def __init__(self, face: CanonicalFace, layout_names=("ibug68", "wflw98"), segments: int = PICK_SEGMENTS):
        import ipywidgets
        import plotly.graph_objects as go

        self.face, self.layout_names, self.picked = face, layout_names, []
        self.fine = face.subdivide(segments)
        figure = plots.queries_figure(face, torch.zeros(0, 3), title="Click the face to add query points",
                                      mesh=self.fine)
        self.figure = go.FigureWidget(figure)
        self.figure.data[0].on_click(self._on_click)
        self.status = ipywidgets.HTML("Click the face to add a query. (After a kernel restart, run this cell again.)")
        self.log = ipywidgets.HTML("No queries yet.", layout=ipywidgets.Layout(
            max_height=PANEL_HEIGHT, overflow="auto", border="1px solid #ddd", padding="2px 6px"))
        self.name = ipywidgets.Text(value="my_points", description="layout name", style={"description_width": "initial"},
                                    layout=ipywidgets.Layout(width="16em"))
        undo = ipywidgets.Button(description="Undo last")
        clear = ipywidgets.Button(description="Clear queries")
        save = ipywidgets.Button(description="Save as layout", button_style="primary")
        undo.on_click(self._reporting_errors(lambda _: self.undo()))
        clear.on_click(self._reporting_errors(lambda _: self.clear()))
        save.on_click(self._reporting_errors(lambda _: self._save_clicked()))
        self.buttons = {"undo": undo, "clear": clear, "save": save}
        self.widget = ipywidgets.VBox([self.figure, ipywidgets.HBox([undo, clear, self.name, save]), self.status,
                                       self.log])

    # --- what clicks and buttons do, callable from code too -----------------------------------
    def add(self, point) -> dict:
        """Add the surface point nearest the 3D point ``point`` (3,)."""
        return self._append(describe_point(self.face, point, self.layout_names))

    def add_surface_point(self, triangle: int, barycentric) -> dict:
        """Add an exact surface point; a click on the face calls this."""
        return self._append(describe_point(self.face, layout_names=self.layout_names, surface=(triangle, barycentric)))

    def undo(self) -> None:
        if self.picked:
            self.picked.pop()
        self._redraw()

    def clear(self) -> None:
        self.picked.clear()
        self._redraw()

    @property
    def queries(self):
        """The picked queries as (triangle (K,), barycentric (K,3)) tensors."""
        triangle = torch.tensor([p["triangle"] for p in self.picked], dtype=torch.long)
        barycentric = torch.tensor([p["barycentric"] for p in self.picked], dtype=torch.float32).reshape(-1, 3)
        return triangle, barycentric

    def to_layout(self, name: str) -> layout_registry.Layout:
        """The picked queries as a custom layout (see ``lm3d.layouts.custom``)."""
        if not self.picked:
            raise ValueError("pick at least one query before making a layout")
        definitions = [f"picked with QueryPicker at ({', '.join(f'{c:.2f}' for c in p['point'])}) cm; nearest "
                       + ", ".join(f"{n} {d:.2f} cm" for n, d in next(iter(p["nearest"].values()), []))
                       for p in self.picked]
        return layout_registry.custom(name, *self.queries, definitions=definitions,
                                      description=f"{len(self.picked)} points picked on the canonical face")

    def save_layout(self, name: str, folder: str | Path = ".") -> Path:
        """Register the queries as layout ``name`` and write ``folder/name.json`` (``lm3d.layouts.load`` reads it)."""
        layout = layout_registry.register(self.to_layout(name), replace=True)
        return layout_registry.save(layout, Path(folder) / f"{name}.json")

    # --- wiring ----------------------------------------------------------------------------------
    def _on_click(self, trace, points, selector):
        def handle():
            for vertex in points.point_inds:
                if not 0 <= vertex < len(self.fine.vertices):
                    raise ValueError(f"the click reported mesh vertex {vertex}, but the face has "
                                     f"{len(self.fine.vertices)}; run the picker's cell again")
                self.add_surface_point(int(self.fine.surface.triangle[vertex]), self.fine.surface.barycentric[vertex])
        self._reporting_errors(handle)()

    def _save_clicked(self) -> None:
        path = self.save_layout(self.name.value.strip())
        self.status.value = (f"Saved {len(self.picked)} queries as layout <code>{html.escape(self.name.value)}</code> "
                             f"in <code>{html.escape(str(path))}</code>; use it as "
                             f"<code>layout=\"{html.escape(self.name.value)}\"</code>.")

    def _reporting_errors(self, function):
        """Run a handler; show its error in the panel (a widget callback's traceback reaches no cell)."""
        def run(*args):
            try:
                return function(*args)
            except Exception as error:  # noqa: BLE001 - every failure must be visible in the widget
                where = traceback.extract_tb(error.__traceback__)[-1]
                self.status.value = (f'<span style="color:#b00020"><b>{type(error).__name__}</b>: '
                                     f"{html.escape(str(error))} (in {html.escape(Path(where.filename).name)}, "
                                     f"line {where.lineno})</span>")
        return run

    def _append(self, info: dict) -> dict:
        self.picked.append(info)
        self._redraw()
        self.status.value = f"Added query {len(self.picked) - 1}."
        return info

    def _redraw(self) -> None:
        xyz = [p["point"] for p in self.picked]
        with self.figure.batch_update():
            self.figure.data[1].x, self.figure.data[1].y, self.figure.data[1].z = (
                [c[0] for c in xyz], [c[1] for c in xyz], [c[2] + 0.05 for c in xyz])
            self.figure.data[1].text = [f"query {i}" for i in range(len(xyz))]
        # A page reload draws the figure from the kernel's ``_widget_data``, which plotly sets only at
        # construction; keep it current so that a reloaded view shows the same queries as the panel.
        self.figure._widget_data = deepcopy(self.figure._data)
        self.log.value = "<br>".join(format_description(i, p) for i, p in enumerate(self.picked)) or "No queries yet."
