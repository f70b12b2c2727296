"""Interactive widgets for notebooks: thin wrappers over pure functions and ``lm3d.vis.plots``.

``describe_point`` does the work (where a surface point is, and the nearest layout points) and is
tested; ``QueryPicker`` wires it to a plotly ``FigureWidget`` click handler and an ipywidgets panel.
``pose_frames`` and ``describe_pose`` do the work of ``PoseExplorer``, which steps through images or the
frames of a clip and draws the 3D head's answer with ``lm3d.vis.plots_3d``. ``texture_frames`` and
``describe_texture`` do the work of ``TextureExplorer``, which steps through a clip's frames and shows the texture
fused from the frames so far (``lm3d.applications``) with ``lm3d.vis.textures``; both explorers are
``FrameStepper``s (previous / slider / next over one figure redrawn in place). The browser test
(``make test-browser``) clicks all three in a real JupyterLab.
"""
from __future__ import annotations

import html
import traceback
from copy import deepcopy
from pathlib import Path

import torch

from ..applications import fuse_textures, mirror_fill, sample_texture
from ..face import CanonicalFace, camera
from ..face import layouts as layout_registry
from ..raster.uv_space import uv_map
from . import plots, plots_3d, textures

PICK_SEGMENTS = 4  # each mesh edge cut in 4: picks land within about 0.2 cm of the click (mean edge 0.9 cm)
PANEL_HEIGHT = "9em"  # the query list scrolls past about five queries


def reporting_errors(status, function):
    """``function`` wrapped so that an error shows in the ``status`` HTML panel (a widget callback's traceback
    reaches no cell, so without this a failing widget would fail silently)."""
    def run(*args):
        try:
            return function(*args)
        except Exception as error:  # noqa: BLE001 - every failure must be visible in the widget
            where = traceback.extract_tb(error.__traceback__)[-1]
            status.value = (f'<span style="color:#b00020"><b>{type(error).__name__}</b>: '
                            f"{html.escape(str(error))} (in {html.escape(Path(where.filename).name)}, "
                            f"line {where.lineno})</span>")
    return run


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
        return reporting_errors(self.status, function)

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


# --- the 3D head: pose, camera and shape, frame by frame ---------------------------------------------------
def pose_frames(detector, images, layout: str = "ibug68", boxes=None) -> list[dict]:
    """Per image: the layout's 2D and 3D landmarks, visibility, pose, camera and Euler angles, plus the dense
    predicted face (every mesh vertex: ``dense3d`` canonical cm, ``dense2d`` pixels) for the 3D view.
    ``boxes`` (N,4): face boxes for a box model (``crop-3d``) without a ``face_finder``."""
    if detector.model.camera_head is None:
        raise ValueError("this detector has a 2D head: train --variant crop-3d or s-3d for pose and 3D")
    asked = detector.predict(list(images), box=boxes, layout=layout)
    posed = camera.to_camera(asked.mesh3d, asked.rotation, asked.translation)
    dense2d = camera.project(posed, asked.intrinsics)  # the image camera reproduces the model's 2D points exactly
    keys = ("landmarks2d", "landmarks3d", "visible", "rotation", "translation", "intrinsics")
    return [{**{k: getattr(asked, k)[i] for k in keys}, "euler": {a: v[i] for a, v in asked.euler.items()},
             "dense3d": asked.mesh3d[i], "dense2d": dense2d[i]} for i in range(len(posed))]


def redraw_in_place(figure, fresh) -> None:
    """Copy the traces of the new figure ``fresh`` into the widget ``figure`` (the same number and kinds of traces),
    in one update, and keep them as the widget's state so that a reloaded page shows them too."""
    with figure.batch_update():
        for old, new in zip(figure.data, fresh.data):
            values = new.to_plotly_json()
            values.pop("type", None), values.pop("uid", None)
            old.update(values)
    figure._widget_data = deepcopy(figure._data)


class FrameStepper:
    """What the explorers share: a figure of one frame at a time, redrawn in place, with ◀ previous / a slider /
    next ▶ and a status line. A subclass gives ``_view(index)`` (a plotly figure of the same traces for every frame)
    and ``_describe(index)`` (one line of HTML), calls ``_build(count, below)`` once its frames are ready, and may
    extend ``show``. Display it with ``.widget``."""

    def _build(self, count: int, below=()) -> None:
        import ipywidgets
        import plotly.graph_objects as go

        self.count = count
        self.figure = go.FigureWidget(self._view(0))
        self.slider = ipywidgets.IntSlider(0, 0, count - 1, description="frame", continuous_update=False)
        previous = ipywidgets.Button(description="◀ previous")
        following = ipywidgets.Button(description="next ▶")
        self.status = ipywidgets.HTML(self._describe(0))
        self.slider.observe(reporting_errors(self.status, lambda change: self.show(change["new"])), names="value")
        previous.on_click(reporting_errors(self.status, lambda _: self.step(-1)))
        following.on_click(reporting_errors(self.status, lambda _: self.step(+1)))
        self.buttons = {"previous": previous, "next": following}
        self.widget = ipywidgets.VBox([ipywidgets.HBox([previous, self.slider, following]), self.status, self.figure,
                                       *below])

    def step(self, delta: int) -> None:
        self.slider.value = (self.slider.value + delta) % self.count  # the slider's observer redraws

    def show(self, index: int) -> None:
        """Draw frame ``index`` (the traces keep their number and kinds, so each is updated in place)."""
        fresh = self._view(index)
        if fresh.layout.title.text is not None:
            self.figure.layout.title.text = fresh.layout.title.text
        redraw_in_place(self.figure, fresh)
        self.status.value = self._describe(index)


def describe_pose(index: int, pose: dict, truth: dict | None = None) -> str:
    """One line of HTML: the frame, its yaw/pitch/roll (and the truth's), focal and distance."""
    angles = ", ".join(f"{a} {float(pose['euler'][a]):+.1f}" for a in ("yaw", "pitch", "roll"))
    text = (f"<b>frame {index}</b>: {angles} deg; focal {float(pose['intrinsics'][0]):.0f} px; distance "
            f"{float(pose['translation'].norm()):.0f} cm; {int(pose['visible'].sum())}/{len(pose['visible'])} visible")
    if truth is not None:
        true_angles = camera.rotation_to_euler(torch.as_tensor(truth["rotation"])[None])
        error = camera.rotation_geodesic_degrees(pose["rotation"][None], torch.as_tensor(truth["rotation"])[None])
        text += (" | truth " + ", ".join(f"{a} {float(v[0]):+.1f}" for a, v in zip(("yaw", "pitch", "roll"), true_angles))
                 + f"; rotation error {float(error[0]):.1f} deg")
    return text


class PoseExplorer(FrameStepper):
    """Step through images, or the frames of a clip, and see the 3D head's answer for each.

    Left, the image with its landmarks (hidden ones red) and the predicted mesh; right, the predicted dense face,
    its landmarks, the head-pose axes (the true pose dashed, when ``truth`` is given) and the camera's frustum in
    the camera frame; below, yaw, pitch and roll over the frames against the truth. ``truth``: per-frame
    ``rotation`` (N,3,3) and ``translation`` (N,3), e.g. from SynthFaces; ``boxes`` (N,4) for a box model.
    Display it with ``explorer.widget``.
    """

    def __init__(self, detector, images, truth: dict | None = None, layout: str = "ibug68", boxes=None):
        import plotly.graph_objects as go

        self.images = [plots._numpy(i) for i in images]
        self.face, self.truth = detector.face, truth
        self.poses = pose_frames(detector, self.images, layout, boxes)
        predicted = {a: torch.stack([p["euler"][a] for p in self.poses]) for a in ("yaw", "pitch", "roll")}
        true_euler = None
        if truth is not None:
            true_euler = dict(zip(("yaw", "pitch", "roll"), camera.rotation_to_euler(torch.as_tensor(truth["rotation"]))))
        self.timeline = go.FigureWidget(plots_3d.pose_over_time(predicted, true_euler, frame=0))
        self._build(len(self.images), below=[self.timeline])

    def _truth(self, index: int):
        return None if self.truth is None else {k: self.truth[k][index] for k in ("rotation", "translation")}

    def _view(self, index: int):
        return plots_3d.pose_view(self.images[index], self.poses[index], self.face, self._truth(index))

    def _describe(self, index: int) -> str:
        return describe_pose(index, self.poses[index], self._truth(index))

    def show(self, index: int) -> None:
        super().show(index)
        with self.timeline.batch_update():  # the marker of the current frame on the timeline
            self.timeline.layout.shapes[0].update(x0=index, x1=index)


# --- texture completion: a clip's frames, one after another ------------------------------------------------------
def texture_frames(images, predictions, size: int = 128) -> list[dict]:
    """Per frame of a clip: its ``prediction`` (one image's, of a model with a 3D head), what it ``sampled``
    (``lm3d.applications.sample_texture``), the texture of the frames so far ``fused`` (``fuse_textures`` of frames
    0..i) and ``completed`` by ``mirror_fill``, and the shares of the face's texels (%): ``seen`` by this frame,
    ``seen_so_far``, ``filled`` (mirror-filled) and ``unknown`` once completed."""
    images = [plots._numpy(i) for i in images]
    if len(images) != len(predictions) or not images:
        raise ValueError(f"need one prediction per frame and at least one frame, got {len(images)} frames and "
                         f"{len(predictions)} predictions")
    covered = uv_map(size).covered
    share = lambda mask: 100 * (mask & covered).sum().item() / covered.sum().item()  # noqa: E731
    samples, frames = [], []
    for image, prediction in zip(images, predictions):
        samples.append(sample_texture(image, prediction, size))
        fused = fuse_textures(samples)  # each texel: the viewing-weighted mean of every frame so far that saw it
        completed = mirror_fill(fused.texture, fused.observed)
        frames.append({"prediction": prediction, "sampled": samples[-1], "fused": fused, "completed": completed,
                       "seen": share(samples[-1].observed), "seen_so_far": share(fused.observed),
                       "filled": share(completed.filled), "unknown": share(completed.unknown)})
    return frames


def describe_texture(index: int, frame: dict) -> str:
    """One line of HTML: the frame, its predicted yaw and pitch, and how much of the face its texture holds."""
    euler = frame["prediction"].euler or {}
    angles = ", ".join(f"{a} {float(euler[a]):+.0f}" for a in ("yaw", "pitch") if a in euler)
    return (f"<b>frame {index}</b>{': ' + angles + ' deg' if angles else ''}; this frame sees {frame['seen']:.0f} % "
            f"of the face; so far {frame['seen_so_far']:.0f} % seen, {frame['filled']:.0f} % mirror-filled, "
            f"{frame['unknown']:.0f} % unknown")


class TextureExplorer(FrameStepper):
    """Step through the frames of a clip and watch its texture grow: the frame, its predicted face coloured by the
    texture of the frames so far (fused, then mirror-filled), and that texture in the canonical UV space.

    ``detector``: a model with a 3D head (``predictions``: one ``Prediction`` per frame instead, e.g. the true
    geometry); ``boxes`` (N,4) for a box model; ``size``: texels a side. Display it with ``explorer.widget``.
    """

    def __init__(self, detector, images, size: int = 128, boxes=None, predictions=None):
        self.images = [plots._numpy(i) for i in images]
        if predictions is None:
            if detector.model.camera_head is None:
                raise ValueError("this detector has a 2D head: texture completion needs a 3D head (crop-3d, s-3d, full)")
            asked = detector.predict(self.images, box=boxes, layout="five")
            predictions = [asked.frame(i) for i in range(len(self.images))]
        self.frames = texture_frames(self.images, predictions, size)
        self._build(len(self.images))

    def _view(self, index: int):
        frame = self.frames[index]
        completed, fused = frame["completed"], frame["fused"]
        known = fused.observed | completed.filled
        mesh = textures.surface_mesh(frame["prediction"].mesh3d)
        colours = textures.texture_colours(completed.texture, known, mesh.uv)
        return textures.texture_frame_view(self.images[index], (mesh.points, mesh.triangles, colours),
                                           textures.texture_picture(completed.texture, known),
                                           title=f"frame {index} of {len(self.frames)}: the texture of frames 0-{index}")

    def _describe(self, index: int) -> str:
        return describe_texture(index, self.frames[index])
