"""Stability on fixed SynthFaces test clips: landmark jitter, video NME, RoI jitter, RoI trajectories.

Each source has ``CLIPS`` moving and ``CLIPS`` static clips of ``LENGTH`` frames (``lm3d.synth.video``,
clip seed ``CLIP_SEED``), the same for every model. A model with S sees each frame whole; a box model
crops around a box per frame: the simulated detector draws new noise every frame (as a detector run
frame by frame does), a real one runs on every frame and, when it misses, the previous frame's box is
kept (what a tracking pipeline does); a clip whose first frame it misses is left out.

Beside the raw numbers, the same predictions smoothed by a One-Euro filter (``lm3d.inference.filters``, its default
settings, the clips taken as ``CLIP_FPS`` frames per second) give ``one_euro_*`` numbers: what a filter, rather than
the model, buys in steadiness, and what it costs in lag (video NME).
"""
from __future__ import annotations

from functools import lru_cache

import torch

from ..face import CanonicalFace, layouts
from ..inference.face_boxes import BOX_SEED, face_boxes
from ..inference.filters import one_euro
from ..inference.predict import predict_batches
from ..model.crop import box_to_transform
from ..synth import sources
from ..synth.video import make_clip
from . import stability

CLIPS, LENGTH, CLIP_SEED = 6, 32, 0
CLIP_FPS = 30.0  # the frame rate the clips stand for (a keyframe every 12 frames: a new pose every 0.4 s)


@lru_cache(maxsize=16)
def test_clips(source: str, kind: str, image_size: int, clips: int = CLIPS, length: int = LENGTH) -> tuple[dict, ...]:
    """The fixed test clips of one source and kind (rendered once per process)."""
    return tuple(make_clip(source, length, kind, seed=CLIP_SEED, clip_index=i, image_size=image_size)
                 for i in range(clips))


def clip_boxes(kind: str, clip: dict, key: str, seed: int) -> torch.Tensor | None:
    """One box per frame for a box model (None when the detector misses the first frame)."""
    boxes, found = face_boxes(kind, clip["image"], clip["bbox"], key=key, seed=seed)
    if not found[0]:
        return None
    for t in range(1, len(boxes)):  # a missed frame keeps the previous box
        if not found[t]:
            boxes[t] = boxes[t - 1]
    return boxes


def clip_box_seed(kind: str, index: int) -> int:
    """The simulated detector's noise seed for one test clip (every model sees the same boxes)."""
    return BOX_SEED + 1000 * index + (kind == "moving")


def clip_rois(source: str, image_size: int, margin: float, finders: dict | None = None, models: dict | None = None,
              kind: str = "moving", index: int = 0) -> dict:
    """The RoIs over one test clip, name -> (T,2,3) crop transforms (``lm3d.model.crop``): the true face box's crop
    ("truth"), each face finder's (``finders``: name -> a ``face_boxes`` kind; the RoI of a box model behind it; one
    that misses the first frame is left out), and each S model's own crop (``models``: name -> model)."""
    clip = test_clips(source, kind, image_size)[index]
    rois = {"truth": box_to_transform(clip["bbox"].float(), margin)}
    for name, finder in (finders or {}).items():
        boxes = clip_boxes(finder, clip, f"{source}/{kind}/{index}", clip_box_seed(kind, index))
        if boxes is not None:
            rois[name] = box_to_transform(boxes.float(), margin)
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    for name, model in (models or {}).items():
        if model.needs_box:
            raise ValueError(f"clip_rois: {name!r} is a box model; its RoI is its face finder's (pass it in finders)")
        rois[name] = predict_batches(model, clip["image"], None, queries)["transform"].float().cpu()
    return rois


def evaluate_stability(model, source: str, image_size: int, boxes: str = "simulated", clips: int = CLIPS,
                       length: int = LENGTH) -> dict:
    """static_jitter, motion_jitter, video_nme, roi_jitter (moving clips), roi_jitter_static, in percent; the first
    three also as one_euro_* (the landmarks smoothed over each clip by a One-Euro filter)."""
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    runs = {}
    for kind in ("static", "moving"):
        kept = []
        for index, clip in enumerate(test_clips(source, kind, image_size, clips, length)):
            chosen = None
            if model.needs_box:
                chosen = clip_boxes(boxes, clip, f"{source}/{kind}/{index}", clip_box_seed(kind, index))
                if chosen is None:
                    continue
            kept.append((clip, predict_batches(model, clip["image"], chosen, queries)))
        runs[kind] = kept
    out = {"clips_used": 100 * sum(len(v) for v in runs.values()) / (2 * clips)}
    if runs["static"]:
        predicted, iod = _stack(runs["static"], "landmarks2d"), _stack(runs["static"], "iod", truth=True)
        out["static_jitter"] = stability.static_jitter(predicted, iod)
        out["one_euro_static_jitter"] = stability.static_jitter(smoothed(predicted, iod), iod)
        out["roi_jitter_static"] = stability.roi_jitter(_stack(runs["static"], "transform"),
                                                        _stack(runs["static"], "bbox", truth=True))
    if runs["moving"]:
        predicted, truth = _stack(runs["moving"], "landmarks2d"), _stack(runs["moving"], "landmarks2d", truth=True)
        iod = _stack(runs["moving"], "iod", truth=True)
        out["motion_jitter"] = stability.motion_jitter(predicted, truth, iod)
        out["video_nme"] = stability.video_nme(predicted, truth, iod)
        filtered = smoothed(predicted, iod)
        out["one_euro_motion_jitter"] = stability.motion_jitter(filtered, truth, iod)
        out["one_euro_video_nme"] = stability.video_nme(filtered, truth, iod)
        out["roi_jitter"] = stability.roi_jitter(_stack(runs["moving"], "transform"),
                                                 _stack(runs["moving"], "bbox", truth=True))
    return out


def smoothed(landmarks: torch.Tensor, iod: torch.Tensor, **settings) -> torch.Tensor:
    """(C,T,K,2) landmarks, each clip filtered over its frames by a One-Euro filter (speed in inter-ocular distances;
    ``settings``: ``min_cutoff``, ``beta``, ``d_cutoff`` of ``lm3d.inference.filters.one_euro``, its defaults if none)."""
    return torch.stack([torch.from_numpy(one_euro(clip.numpy(), fps=CLIP_FPS, scale=clip_iod.numpy(), **settings)).float()
                        for clip, clip_iod in zip(landmarks, iod)])


def _stack(runs, key: str, truth: bool = False) -> torch.Tensor:
    return torch.stack([(clip if truth else predicted)[key].float().cpu() for clip, predicted in runs])
