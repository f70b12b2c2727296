"""The One-Euro filter: still signals stay, noise on a still face shrinks, beta trades jitter for lag, bad input fails."""
import numpy as np
import pytest

from lm3d.inference.filters import OneEuroFilter, one_euro, smoothing_factor


def test_a_constant_signal_comes_out_unchanged():
    still = np.tile(np.array([[10.0, 20.0], [30.0, 40.0]]), (50, 1, 1))
    assert np.array_equal(one_euro(still, fps=30, scale=5.0), still)


def test_the_smoothing_factor_is_a_first_order_filters():
    # alpha = dt / (dt + tau) with tau = 1 / (2 pi fc)
    dt, fc = 1 / 30, 2.0
    assert smoothing_factor(fc, dt) == pytest.approx(dt / (dt + 1 / (2 * np.pi * fc)))


def test_noise_on_a_still_face_shrinks():
    rng = np.random.default_rng(0)
    noisy = 100 + rng.normal(0, 1.0, size=(300, 68, 2))  # 1 px noise, an inter-ocular distance of 50 px
    smoothed = one_euro(noisy, fps=30, scale=50.0)[30:]  # after it has settled; the defaults
    assert smoothed.std(0).mean() < 0.67 * noisy[30:].std(0).mean()
    harder = one_euro(noisy, fps=30, scale=50.0, min_cutoff=0.5, beta=0.0)[30:]  # a lower cut-off smooths more
    assert harder.std(0).mean() < 0.5 * smoothed.std(0).mean()


def test_beta_trades_jitter_for_lag_on_a_moving_face():
    t = np.arange(60) / 30
    ramp = np.stack([200 * t, np.zeros_like(t)], -1)[:, None]  # four inter-ocular distances per second
    lag = {beta: np.abs(one_euro(ramp, fps=30, scale=50.0, beta=beta) - ramp)[30:].mean() for beta in (0.0, 1.0, 10.0)}
    assert lag[10.0] < lag[1.0] < lag[0.0]


def test_the_filter_follows_a_step_and_a_stream_equals_the_whole_sequence():
    step = np.concatenate([np.zeros((10, 3)), np.ones((50, 3))])
    whole = one_euro(step, fps=30)
    assert abs(whole[-1] - 1).max() < 1e-3
    smooth = OneEuroFilter(fps=30)
    assert np.array_equal(np.stack([smooth(x) for x in step]), whole)
    smooth.reset()
    assert np.array_equal(smooth(step[-1]), step[-1])  # a new stream starts from its first value


def test_a_frame_without_an_answer_keeps_the_last_estimate():
    smooth = OneEuroFilter(fps=30)
    smooth(np.zeros(2))
    last = smooth(np.ones(2))
    assert np.array_equal(smooth(np.full(2, np.nan)), last)


def test_time_stamps_set_the_interval():
    smooth_30, smooth_stamped = OneEuroFilter(fps=30), OneEuroFilter(fps=1000)
    for k, x in enumerate(np.linspace(0, 1, 10)):
        assert np.allclose(smooth_30(np.array([x])), smooth_stamped(np.array([x]), time=k / 30))


@pytest.mark.parametrize("kwargs, message", [({"fps": 0}, "fps"), ({"min_cutoff": -1}, "min_cutoff"),
                                             ({"beta": float("nan")}, "beta"), ({"d_cutoff": 0}, "d_cutoff")])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OneEuroFilter(**kwargs)


def test_bad_streams_are_refused():
    smooth = OneEuroFilter()
    smooth(np.zeros((68, 2)), time=1.0)
    with pytest.raises(ValueError, match="shape"):
        smooth(np.zeros((5, 2)), time=2.0)
    with pytest.raises(ValueError, match="increase"):
        smooth(np.zeros((68, 2)), time=1.0)
    with pytest.raises(ValueError, match="scale"):
        smooth(np.zeros((68, 2)), time=3.0, scale=0.0)
    with pytest.raises(ValueError, match="sequence"):
        one_euro(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="one per frame"):
        one_euro(np.zeros((4, 2)), scale=np.ones(3))


def test_a_stream_that_starts_without_an_answer_waits_for_one():
    from lm3d.inference import OneEuroFilter

    smooth = OneEuroFilter(fps=30)
    assert np.isnan(smooth(np.array([np.nan, np.nan]))).all()
    assert np.allclose(smooth(np.array([1.0, 2.0])), [1.0, 2.0])  # the first answer starts the filter
