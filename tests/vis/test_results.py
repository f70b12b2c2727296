"""The results figures draw what the reports hold: one curve, bar group or line per row, and nothing for rows without it."""
import matplotlib.pyplot as plt
import numpy as np

from lm3d.vis import results


def cell(mean, std=0.1):
    return {"mean": mean, "std": std, "values": [mean - std, mean + std]}


def test_one_ced_curve_per_row():
    errors = np.linspace(0, 10, 11)
    figure = results.ced_figure({"a": (errors, errors / 10), "b": (errors, np.ones(11))})
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.lines] == ["a", "b"] and axis.get_xlim() == (0, 10)
    plt.close(figure)


def test_jitter_bars_skip_rows_without_jitter():
    rows = {"baseline": {"static jitter synth300w": cell(1.4), "motion jitter synth300w": cell(3.0)},
            "S": {"static jitter synth300w": cell(1.0)}, "no clips": {"NME synth300w": cell(8.0)}}
    figure = results.jitter_figure(rows)
    axis = figure.axes[0]
    heights = [patch.get_height() for patch in axis.patches]
    assert heights[:2] == [1.4, 1.0] and heights[2] == 3.0 and np.isnan(heights[3])  # static bars, then motion bars
    assert len(axis.get_xticklabels()) == 2
    plt.close(figure)


def test_rotation_by_yaw_draws_the_3d_rows_in_bin_order():
    rows = {"3D head": {"rotation_deg synth300w at yaw 30-45": cell(9.0), "rotation_deg synth300w at yaw 0-15": cell(6.0)},
            "2D head": {"NME synth300w": cell(8.0)}}
    figure = results.rotation_by_yaw_figure(rows)
    line = figure.axes[0].lines[0]  # (the error bars add their caps as lines)
    assert list(line.get_xdata()) == [7.5, 37.5] and list(line.get_ydata()) == [6.0, 9.0]
    plt.close(figure)
