"""Smoke tests of the plot functions and the query picker's pure logic."""
import matplotlib

matplotlib.use("Agg")

import plotly.graph_objects as go  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lm3d import layouts, plots, widgets  # noqa: E402


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


def test_query_picker_collects_surface_points(face):
    picker = widgets.QueryPicker(face)
    picker.add([0.0, 0.0, 9.0])
    picker.add([-3.0, 2.5, 5.0])
    triangle, barycentric = picker.queries
    assert triangle.shape == (2,) and barycentric.shape == (2, 3)
    assert len(picker.figure.data[1].x) == 2 and "query 1" in picker.log.value
    picker.clear()
    assert picker.queries[0].shape == (0,) and len(picker.figure.data[1].x) == 0
