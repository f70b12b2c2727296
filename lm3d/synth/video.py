"""SynthFaces video clips for the temporal-stability metrics.

* ``moving`` clips: one person (identity, colours, background, light) whose head pose, position,
  scale and expression follow smooth random trajectories: keyframes drawn by the scene sampler
  every ``keyframe_every`` frames, joined by Catmull-Rom splines (continuous velocity).
* ``static`` clips: every frame shows the same scene; only the sensor noise changes, so any
  motion of a detector's landmarks is jitter.

    >>> clip = make_clip("synth300w", length=48, kind="moving", seed=0, image_size=128)
    >>> clip["image"].shape          # (48, 3, 128, 128) uint8, with per-frame ground truth
"""
from __future__ import annotations

import copy

import numpy as np

from .render import SynthFaces, render_scenes

MOVING_KEYS = ("yaw", "pitch", "roll", "face_px", "centre", "expression")
CLIP_SPLIT = "test"


def _catmull_rom(p0, p1, p2, p3, t):
    return 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3)


def _wander(first: dict, other: dict, rng, image_size: int) -> dict:
    """A keyframe near the first frame: the same person and place, a moderately different pose."""
    key = dict(first)
    key["yaw"] = float(np.clip(first["yaw"] + rng.normal(0, 12), -90, 90))
    key["pitch"] = float(np.clip(first["pitch"] + rng.normal(0, 6), -45, 45))
    key["roll"] = float(np.clip(first["roll"] + rng.normal(0, 6), -45, 45))
    key["centre"] = np.clip(first["centre"] + rng.normal(0, 0.04 * image_size, size=2), 0, image_size).astype(np.float32)
    key["face_px"] = float(first["face_px"] * np.exp(rng.normal(0, 0.06)))
    key["expression"] = 0.7 * other["expression"]  # expressions come and go
    return key


def clip_scenes(source: str, length: int, kind: str = "moving", seed: int = 0, clip_index: int = 0,
                image_size: int = 256, keyframe_every: int = 12) -> list[dict]:
    """The per-frame scene parameters of one clip (deterministic in all arguments)."""
    if kind not in ("moving", "static"):
        raise ValueError(f"unknown clip kind {kind!r}; known kinds: moving, static")
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"clip length must be a positive integer, got {length!r}")
    if not isinstance(keyframe_every, int) or keyframe_every < 2:
        raise ValueError(f"keyframe_every must be an integer >= 2, got {keyframe_every!r}")
    # clips draw from their own random stream: an offset seed, so they never repeat test images
    data = SynthFaces(source, CLIP_SPLIT, size=10 ** 9, seed=seed + 1_000_003, image_size=image_size)
    keys = length // keyframe_every + 4
    base = clip_index * 10_000
    first = data.scenes([base])[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, clip_index, 7]))
    keyframes = [_wander(first, data.scenes([base + k])[0], rng, image_size) for k in range(keys)] \
        if kind == "moving" else [first]
    frames = []
    for f in range(length):
        scene = copy.deepcopy(keyframes[0])
        if kind == "moving":
            k, t = divmod(f, keyframe_every)
            t = t / keyframe_every
            for key in MOVING_KEYS:
                p = [np.asarray(keyframes[k + j][key], np.float32) for j in range(4)]
                scene[key] = _catmull_rom(*p, t)
            scene["expression"] = np.clip(scene["expression"], 0, 1)  # splines overshoot a little
            scene["yaw"] = float(np.clip(scene["yaw"], -90, 90))
        scene["noise"] = max(scene["noise"], 0.01)  # a real sensor is never noise-free
        scene["noise_shift"] = rng.integers(0, 1 << 16, size=2)
        frames.append(scene)
    return frames


def make_clip(source: str, length: int = 48, kind: str = "moving", seed: int = 0, clip_index: int = 0,
              image_size: int = 256, device="cpu") -> dict:
    """Render a clip: the same fields as a SynthFaces batch, one row per frame."""
    return render_clip(source, clip_scenes(source, length, kind, seed, clip_index, image_size), image_size, device)


def render_clip(source: str, scenes: list[dict], image_size: int, device="cpu") -> dict:
    """Render frames of a clip (``clip_scenes``, or a selection of them) as ``make_clip`` does."""
    data = SynthFaces(source, CLIP_SPLIT, size=1, image_size=image_size)  # its seed does not enter a render
    return render_scenes(scenes, data.spec, data.queries, data.layout.name, image_size, device)
