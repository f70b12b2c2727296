"""Smoke tests of the plot functions (faces, layouts, RoIs), and the query picker driven by the messages a browser sends."""
import matplotlib

matplotlib.use("Agg")

import plotly.graph_objects as go  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lm3d import layouts  # noqa: E402
from lm3d.model import crop  # noqa: E402
from lm3d.vis import plots, widgets  # noqa: E402


def test_mesh_figure(face):
    figure = plots.mesh_figure(face, wireframe=True)
    assert isinstance(figure, go.Figure)
    assert len(figure.data[0].i) == 898 and len(figure.data[0].x) == 468
    assert figure.data[1].mode == "lines"


@pytest.mark.parametrize("name", layouts.names())
def test_layout_figure_has_one_trace_per_group(face, name):
    layout = layouts.get(name)
    figure = plots.layout_figure(face, layout)
    point_traces = [t for t in figure.data if isinstance(t, go.Scatter3d) and t.mode == "markers"]
    assert len(point_traces) == len(set(layout.groups))
    assert sum(len(t.x) for t in point_traces) == len(layout)


def test_queries_figure(face):
    figure = plots.queries_figure(face, torch.zeros(3, 3), ["a", "b", "c"])
    assert len(figure.data[1].x) == 3


def test_layout_views_draw_front_and_side(face):
    figure = plots.layout_views(face, layouts.get("ibug68"))
    assert len(figure.axes) == 2
    assert [a.get_title().split(": ")[-1] for a in figure.axes] == ["front", "right side"]
    matplotlib.pyplot.close(figure)


def test_describe_point_snaps_and_names_neighbours(face):
    ibug = layouts.get("ibug68")
    nose_tip = ibug.points(face)[30]
    info = widgets.describe_point(face, nose_tip + torch.tensor([0.0, 0.0, 0.5]))
    assert info["snap_distance_cm"] == pytest.approx(0.5, abs=0.05)
    assert info["nearest"]["ibug68"][0][0] == ibug.names[30]
    torch.testing.assert_close(face.points(torch.tensor([info["triangle"]]), torch.tensor([info["barycentric"]]))[0],
                               torch.tensor(info["point"]))


def click(picker, vertex: int, trace: int = 0) -> None:
    """What plotly.js sends to the kernel when a user clicks vertex ``vertex`` of trace ``trace``."""
    picker.figure._js2py_pointsCallback = {
        "event_type": "plotly_click", "device_state": None, "selector": None,
        "points": {"xs": [0.0], "ys": [0.0], "point_indexes": [vertex], "trace_indexes": [trace]}}


def test_query_picker_collects_surface_points(face):
    picker = widgets.QueryPicker(face)
    picker.add([0.0, 0.0, 9.0])
    picker.add([-3.0, 2.5, 5.0])
    triangle, barycentric = picker.queries
    assert triangle.shape == (2,) and barycentric.shape == (2, 3)
    assert len(picker.figure.data[1].x) == 2 and "query 1" in picker.log.value
    picker.undo()
    assert len(picker.queries[0]) == 1 and len(picker.figure.data[1].x) == 1
    picker.clear()
    assert picker.queries[0].shape == (0,) and len(picker.figure.data[1].x) == 0


def test_a_click_adds_the_surface_point_under_it(face):
    picker = widgets.QueryPicker(face)
    fine = picker.fine
    # a vertex of the finer mesh strictly inside an original triangle: not a vertex of the face
    vertex = int(((fine.surface.barycentric > 0).all(1)).nonzero()[0])
    click(picker, vertex)
    triangle, barycentric = picker.queries
    assert triangle.tolist() == [int(fine.surface.triangle[vertex])]
    torch.testing.assert_close(barycentric[0], fine.surface.barycentric[vertex])
    assert barycentric.max() < 0.99  # not a vertex's weights
    torch.testing.assert_close(face.points(triangle, barycentric)[0], fine.vertices[vertex])
    assert "query 0" in picker.log.value and "Added query 0" in picker.status.value


def test_a_page_reload_draws_the_picked_queries(face):
    """A reloaded page draws the figure from ``_widget_data``: it must hold what the panel lists."""
    picker = widgets.QueryPicker(face)
    click(picker, 100), click(picker, 2000)
    assert len(picker.figure._widget_data[1]["x"]) == 2
    picker.undo()
    assert len(picker.figure._widget_data[1]["x"]) == 1 and "query 1" not in picker.log.value


def test_a_failing_click_says_so_in_the_panel(face):
    picker = widgets.QueryPicker(face)
    click(picker, 10 ** 7)  # a vertex the face does not have (a stale view of another mesh)
    assert "ValueError" in picker.status.value and "run the picker" in picker.status.value
    assert picker.picked == []


def test_clicks_on_other_traces_add_nothing(face):
    picker = widgets.QueryPicker(face)
    picker.add([0.0, 0.0, 9.0])
    click(picker, 0, trace=1)  # a click on a red query marker
    assert len(picker.picked) == 1


def test_interactive_traces_send_events(face):
    """plotly.js sends no click or hover events for a trace with hoverinfo="skip"."""
    picker = widgets.QueryPicker(face)
    listened = [t for t in picker.figure.data if t._click_callbacks or t._hover_callbacks]
    assert listened, "the picker listens to no trace"
    assert all(t.hoverinfo != "skip" for t in listened)
    # the face in every plot can be clicked, so any widget built on these figures hears its clicks
    for figure in (plots.mesh_figure(face), plots.queries_figure(face, torch.zeros(1, 3)),
                   plots.layout_figure(face, layouts.get("ibug68"))):
        assert figure.data[0].type == "mesh3d" and figure.data[0].hoverinfo != "skip"


def test_picked_queries_become_a_layout_a_detector_can_use(face, tmp_path):
    picker = widgets.QueryPicker(face)
    for vertex in (100, 2000, 5000):
        click(picker, vertex)
    path = picker.save_layout("picked_test", tmp_path)
    loaded = layouts.load(path)
    assert loaded.name == "picked_test" and len(loaded) == 3
    torch.testing.assert_close(loaded.points(face), face.points(*picker.queries), atol=1e-5, rtol=0)
    assert layouts.get("picked_test").names == loaded.names  # registered: usable as layout="picked_test"
    picker.name.value = "bad name!"
    picker.buttons["save"].click()
    assert "ValueError" in picker.status.value


def test_an_empty_picker_makes_no_layout(face):
    with pytest.raises(ValueError, match="at least one query"):
        widgets.QueryPicker(face).to_layout("nothing")


def test_the_animation_player_reaches_for_no_network():
    from matplotlib import animation

    figure, axis = matplotlib.pyplot.subplots()
    line, = axis.plot([0, 1], [0, 1])
    player = plots.animation_player(animation.FuncAnimation(figure, lambda f: line.set_ydata([0, f]), frames=3))
    matplotlib.pyplot.close(figure)
    assert "http://" not in player and "https://" not in player
    assert "anim-buttons" in player and "\u25b6" in player  # the play button still has its icon


def test_roi_plots_draw_every_roi():
    boxes = torch.tensor([[10.0, 10.0, 50.0, 60.0]]).repeat(8, 1)
    rois = {"truth": crop.box_to_transform(boxes), "simulated detector": crop.box_to_transform(
        crop.jitter_boxes(boxes, torch.Generator().manual_seed(0)))}
    figure = plots.roi_trajectories(rois)
    assert len(figure.axes) == 4 and len(figure.axes[0].lines) == 2
    figure = plots.roi_frames(torch.zeros(8, 3, 64, 64, dtype=torch.uint8), rois, [0, 7])
    assert len(figure.axes) == 2 and len(figure.axes[1].lines) == 2
    matplotlib.pyplot.close("all")


def test_training_curves_read_the_log_lines_they_need():
    log = [{"step": 25, "loss": 2.0, "train_seconds": 30.0}, {"step": 50, "loss": 1.0, "train_seconds": 60.0},
           {"step": 50, "val_nme": 12.0, "train_seconds": 60.0}, {"step": 75, "loss": 0.5, "train_seconds": 90.0},
           {"step": 100, "val_nme": 9.0, "train_seconds": 120.0}]
    losses = plots.learning_curves({"run": log}).axes[0].lines[0]
    assert list(losses.get_xdata()) == [25, 50, 75] and list(losses.get_ydata()) == [2.0, 1.0, 0.5]
    curve = plots.validation_curves({"run": log, "no curve": log[:2]}).axes[0].lines
    assert len(curve) == 1 and list(curve[0].get_xdata()) == [1.0, 2.0] and list(curve[0].get_ydata()) == [12.0, 9.0]
    matplotlib.pyplot.close("all")
