"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): smoothing for landmarks over video frames.

A first-order low-pass filter whose cut-off frequency rises with the signal's speed: a still face is smoothed
hard (little jitter), a moving one lightly (little lag). Per value, with the frame interval ``dt`` seconds::

    alpha(fc)   = 1 / (1 + 1 / (2 pi fc dt))                  the smoothing factor of a cut-off fc (Hz)
    speed_hat_t = alpha(d_cutoff) * (x_t - x_hat_{t-1}) / dt + (1 - alpha(d_cutoff)) * speed_hat_{t-1}
    fc_t        = min_cutoff + beta * |speed_hat_t|
    x_hat_t     = alpha(fc_t) * x_t + (1 - alpha(fc_t)) * x_hat_{t-1}

``min_cutoff`` sets the smoothing of a still face (lower: steadier, slower to follow), ``beta`` how fast the
cut-off opens with speed (higher: less lag on fast motion). Landmarks move in pixels, so ``beta`` depends on the
image scale; ``OneEuroFilter`` divides the speed by ``scale`` (for a face, its inter-ocular distance in pixels)
so that one setting serves every face size: ``beta`` is then in cut-off Hz per inter-ocular distance per second.

    >>> smooth = OneEuroFilter(fps=30)
    >>> for frame in frames:
    ...     steady = smooth(landmarks_of(frame), scale=iod)      # (K, 2) in, (K, 2) out
    >>> steady_clip = one_euro(clip_landmarks, fps=30, scale=iods)  # (T, K, 2) at once
"""
from __future__ import annotations

import math

import numpy as np

# defaults for face landmarks at video rates (speed in inter-ocular distances per second), chosen by
# benchmarks/one_euro_settings.py on clips that are not the test clips: the lowest static jitter among the settings
# that keep the baseline's video NME within 2 % of its unfiltered value (a steadier still face, almost no lag on a
# moving one); lm3d.evaluation.video measures what they do on the test clips
MIN_CUTOFF_HZ, BETA, D_CUTOFF_HZ = 2.0, 10.0, 1.0


def smoothing_factor(cutoff_hz, dt: float):
    """alpha of a first-order low-pass filter with cut-off ``cutoff_hz`` sampled every ``dt`` seconds."""
    return 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff_hz * dt))


class OneEuroFilter:
    """A One-Euro filter over a stream of arrays of one shape (landmarks (K, 2), a pose, a crop...).

    ``fps``: the frame rate when calls give no time stamp. Each call takes the next array and returns it filtered;
    ``reset()`` forgets the past (a new clip, or a face lost and found again)."""

    def __init__(self, fps: float = 30.0, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF_HZ):
        for name, value, low in (("fps", fps, 0.0), ("min_cutoff", min_cutoff, 0.0), ("d_cutoff", d_cutoff, 0.0)):
            if not (math.isfinite(value) and value > low):
                raise ValueError(f"OneEuroFilter: {name} must be a positive number, got {value}")
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"OneEuroFilter: beta must be zero or positive, got {beta}")
        self.fps, self.min_cutoff, self.beta, self.d_cutoff = fps, min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._value = self._speed = self._time = None

    def __call__(self, value, time: float | None = None, scale: float = 1.0) -> np.ndarray:
        """The filtered ``value``; ``time`` in seconds (default: one frame after the last call); ``scale``: the
        unit of the speed (the face's inter-ocular distance for landmarks in pixels)."""
        value = np.asarray(value, dtype=np.float64)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"OneEuroFilter: scale must be a positive number, got {scale}")
        if self._value is None:
            if not np.isfinite(value).all():  # no answer yet (a stream that starts without a face): nothing to keep
                return value.copy()
            self._value, self._speed = value.copy(), np.zeros_like(value)
            self._time = 0.0 if time is None else time
            return value.copy()
        if value.shape != self._value.shape:
            raise ValueError(f"OneEuroFilter: expected an array of shape {self._value.shape} (as before), got "
                             f"{value.shape}; call reset() for a new stream")
        dt = 1.0 / self.fps if time is None else time - self._time
        if not dt > 0:
            raise ValueError(f"OneEuroFilter: time stamps must increase, got {time} after {self._time}")
        self._time += dt
        if not np.isfinite(value).all():  # a frame without an answer (no face): keep the last estimate
            return self._value.copy()
        speed = (value - self._value) / dt / scale
        self._speed = self._speed + smoothing_factor(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = self._value + smoothing_factor(cutoff, dt) * (value - self._value)
        return self._value.copy()


def one_euro(sequence, fps: float = 30.0, scale=1.0, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA,
             d_cutoff: float = D_CUTOFF_HZ) -> np.ndarray:
    """A whole sequence (T, ...) filtered frame by frame; ``scale`` one number or one per frame (T,)."""
    sequence = np.asarray(sequence, dtype=np.float64)
    if sequence.ndim < 1 or len(sequence) == 0:
        raise ValueError(f"one_euro: expected a sequence of frames (T, ...), got shape {sequence.shape}")
    scales = np.asarray(scale, dtype=np.float64)
    if scales.ndim > 0 and scales.shape != (len(sequence),):
        raise ValueError(f"one_euro: scale must be one number or one per frame ({len(sequence)},), got {scales.shape}")
    scales = np.broadcast_to(scales, (len(sequence),))
    smooth = OneEuroFilter(fps, min_cutoff, beta, d_cutoff)
    return np.stack([smooth(frame, scale=float(s)) for frame, s in zip(sequence, scales)])
