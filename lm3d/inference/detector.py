"""``Detector``: load a checkpoint, predict landmarks of any layout or query set; ``Prediction``: what it answers.

    >>> detector = lm3d.Detector.from_pretrained()   # the shipped full model (S, 3D head, D): no box, no training
    >>> detector = lm3d.Detector.from_checkpoint("runs/std1/checkpoint.pt")
    >>> result = detector.predict(image, box=(x0, y0, x1, y1), layout="ibug68")   # a box model (baseline)
    >>> result = detector.predict(image, layout="ibug68")   # a model with S finds the face itself
    >>> result.landmarks2d, result.face_score               # (68, 2) pixels, x then y; how sure it is of a face
    >>> detector.predict(image, box=box, queries=(triangle, barycentric))   # any surface points
    >>> detector.predict(image, layout="ibug68", dataset="synthwflw")   # a model with D: in WFLW's convention

Images: an HxWx3 uint8 RGB array, an HxWx3 float array in [0, 1], an HxW (or HxWx1) grayscale array,
an HxWx4 RGBA array (alpha is dropped), a file path, or a batch (a list of those, or an NxHxWx3 array
with one box per image for a box model). Views with any strides are fine.

A box model needs a face box; without one it runs ``face_finder`` if one was given (for example
``lm3d.inference.LBPFaceFinder``), and otherwise says that it needs a box. A model with a spatial transformer takes
no box and reports ``face_score``: below ``min_face_score`` the image is taken to hold no face, its
landmarks are NaN (never confident answers about a face that is not there) and ``message`` says why.
``message`` also warns when S's crop is smaller or larger than any face it was trained on.

A model with a 3D head (variants ``crop-3d``, ``s-3d``) also reports, in the conventions of
``lm3d.model.camera_head`` (OpenCV camera axes, R maps canonical points into the camera, cm, image pixels):

    >>> result.landmarks3d        # (K,3) canonical cm: the face's shape at the queried points
    >>> result.rotation, result.translation, result.intrinsics   # (3,3) proper rotation, (3,) cm, (fx, fy, cx, cy) px
    >>> result.euler              # {"yaw", "pitch", "roll"} degrees, R = Rz(roll) Ry(yaw) Rx(pitch) (lm3d.face.camera)
    >>> result.visible            # (K,) bool: not hidden by the predicted face itself (lm3d.raster.visibility)
    >>> result.mesh3d             # (468,3) canonical cm: the predicted dense face (the 3D face shape)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..face import CanonicalFace, camera, layouts
from ..model import checkpoint
from ..model.crop import box_to_transform as crop_from_box
from ..model.spatial_transformer import scale as crop_scale
from ..raster.visibility import visible_points
from .face_boxes import box_from_landmarks
from .filters import BETA, MIN_CUTOFF_HZ, one_euro
from .images import check_box, read_image
from .predict import dataset_codes


@dataclass
class Prediction:
    landmarks2d: torch.Tensor  # (K,2) or (B,K,2) pixels, x then y; NaN where no face was found
    box: torch.Tensor | None  # (4,) or (B,4) the face box that was used (box models)
    names: tuple[str, ...] | None  # point names when a layout was asked for
    face_score: torch.Tensor | None = None  # () or (B,) probability that the image holds a face (models with S)
    transform: torch.Tensor | None = None  # (2,3) or (B,2,3) the crop, mapping [-1,1]^2 to image pixels
    message: str | list[str] | None = None  # why landmarks are NaN or may be unreliable, else None
    # a 3D head's outputs (None for a 2D head); NaN (visible False) where no face was found
    landmarks3d: torch.Tensor | None = None  # (K,3) or (B,K,3) canonical cm
    rotation: torch.Tensor | None = None  # (3,3) or (B,3,3) head pose: camera-frame point = R diag(1,-1,-1) X + t
    translation: torch.Tensor | None = None  # (3,) or (B,3) cm, the canonical origin in the camera frame
    intrinsics: torch.Tensor | None = None  # (4,) or (B,4) fx, fy, cx, cy in pixels of the input image
    euler: dict | None = None  # {"yaw", "pitch", "roll"}: () or (B,) degrees, lm3d.face.camera's convention
    visible: torch.Tensor | None = None  # (K,) or (B,K) bool, self-occlusion by the predicted dense face
    mesh3d: torch.Tensor | None = None  # (V,3) or (B,V,3) canonical cm: the predicted dense face, every mesh vertex

    def frame(self, i: int) -> "Prediction":
        """Image ``i`` of a batched prediction, as ``predict`` answers one image."""
        fields = {}
        for key, value in vars(self).items():
            if key == "names" or value is None:
                fields[key] = value
            elif key == "euler":
                fields[key] = {angle: v[i] for angle, v in value.items()}
            elif key == "message":
                fields[key] = value[i] if isinstance(value, list) else value
            else:
                fields[key] = value[i]
        return Prediction(**fields)

    @staticmethod
    def stack(predictions: list["Prediction"]) -> "Prediction":
        """Single-image predictions (one model, one point set) as one batched prediction."""
        if not predictions:
            raise ValueError("no predictions to stack")
        fields = {}
        for key, value in vars(predictions[0]).items():
            values = [getattr(p, key) for p in predictions]
            if key == "names" or value is None:
                fields[key] = value
            elif key == "euler":
                fields[key] = {angle: torch.stack([v[angle] for v in values]) for angle in value}
            elif key == "message":
                fields[key] = values if any(values) else None
            else:
                fields[key] = torch.stack(values)
        return Prediction(**fields)


class Detector:
    """A trained continuous landmark detector: a ``ContinuousLandmarkModel`` with the checks a user's images need."""

    def __init__(self, model, face_finder=None, scale_range: tuple[float, float] | None = None,
                 min_face_score: float = 0.5):
        self.model = model.eval()
        self.face = CanonicalFace.load()
        self.face_finder = face_finder
        self.scale_range = scale_range  # the crop scales S met in training, to flag crops outside them
        if not 0 <= min_face_score <= 1:
            raise ValueError(f"min_face_score must be in [0, 1], got {min_face_score}")
        self.min_face_score = min_face_score

    @classmethod
    def from_checkpoint(cls, path: str | Path, device=None, face_finder=None, min_face_score: float = 0.5) -> "Detector":
        data = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)
        scale_range = tuple(data["scale_range"]) if data.get("scale_range") else None
        return cls(checkpoint.load_model(path, device), face_finder, scale_range, min_face_score)

    @classmethod
    def from_pretrained(cls, device=None, min_face_score: float = 0.5) -> "Detector":
        """The detector whose weights ship inside lm3d: the full model (S finds the face, the 3D head gives pose,
        camera and visibility, D answers in a training dataset's convention). How it was trained, what it reaches
        and where it falls short: docs/model_card.md."""
        return cls.from_checkpoint(checkpoint.PRETRAINED, device, min_face_score=min_face_score)

    def _queries(self, layout, queries):
        if (layout is None) == (queries is None):
            raise ValueError("pass exactly one of layout= (a layout name) or queries= (triangle, barycentric)")
        if layout is not None:
            chosen = layouts.get(layout)
            return chosen.points(self.face), chosen.names, (chosen.triangle, chosen.barycentric)
        surface = self.face.check_surface_points(*queries)
        return self.face.points(*surface), None, surface

    @torch.no_grad()
    def predict(self, image, box=None, layout: str | None = "ibug68", queries=None, dataset: str | None = None,
                start_crop=None) -> Prediction:
        """Landmarks (and, with a 3D head, pose, camera, 3D points, visibility) of one image or a batch.

        ``dataset``: answer in that dataset's annotation convention (a model with D, e.g. variant ``full``: one of its
        training datasets, or one added by ``lm3d.adapt_deformer``); None (the default): the canonical semantics of the
        layout's surface points. ``start_crop`` ((2,3) or (B,2,3), a model with S): begin from this crop (a
        ``Prediction.transform``, e.g. the previous video frame's) rather than S's own; ``track`` uses it.
        ``box`` for a model with S: a face box from elsewhere (another face finder, a user's click) where S's re-crops
        begin instead of S's own crop, for when S picks a face-like distractor (docs/model_card.md); S still scores
        the face.
        """
        layout = None if queries is not None else layout
        points, names, surface = self._queries(layout, queries)
        has_3d = self.model.camera_head is not None
        batched = isinstance(image, (list, tuple)) or (isinstance(image, np.ndarray) and image.ndim == 4)
        if batched and len(image) == 0:
            raise ValueError("the batch is empty: pass at least one image")
        arrays = [read_image(i) for i in image] if batched else [read_image(image)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"images in a batch must share one size, got {sorted(shapes)}")
        boxes = self._boxes(arrays, box, batched) if self.model.needs_box or box is not None else None
        if boxes is not None and not self.model.needs_box:  # a model with S given a face box: start from it
            if start_crop is not None:
                raise ValueError("pass box= or start_crop=, not both: each says where a model with S starts")
            start_crop = crop_from_box(boxes, self.model.config.crop_margin)
        device = next(self.model.parameters()).device
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).to(device)
        asked = torch.cat([points, self.face.vertices]) if has_3d else points  # + the dense face, for visibility
        codes = None if dataset is None else dataset_codes(self.model, dataset, len(arrays))
        if start_crop is not None:
            if self.model.needs_box:
                raise ValueError("start_crop is for a model with S; a box model crops around box=")
            start_crop = torch.as_tensor(start_crop, dtype=torch.float32).reshape(-1, 2, 3).expand(len(arrays), -1, -1)
            if not torch.isfinite(start_crop).all():
                raise ValueError("start_crop holds NaN or infinite values (a frame without a face has no crop to follow)")
        out = self.model(images, None if boxes is None else boxes.to(device), asked.to(device), codes,
                         start=None if start_crop is None else start_crop.to(device))
        out["landmarks2d"] = out["landmarks2d"][:, :len(points)]
        landmarks, transform = out["landmarks2d"].float().cpu(), out["transform"].float().cpu()
        pose = self._pose(out, len(points), surface, images.shape[-2:]) if has_3d else {}
        score, messages = None, [None] * len(arrays)
        if "face_logit" in out:
            score = torch.sigmoid(out["face_logit"].float()).cpu()
            messages = self._messages(score, out["matrix"].float().cpu())
            missing = score < self.min_face_score
            landmarks[missing] = float("nan")
            for key, value in pose.items():
                if key == "euler":
                    for angle in value.values():
                        angle[missing] = float("nan")
                else:
                    value[missing] = False if value.dtype == torch.bool else float("nan")
            for text in filter(None, messages):
                warnings.warn(text, stacklevel=2)
        if not batched:
            pose = {k: ({a: x[0] for a, x in v.items()} if k == "euler" else v[0]) for k, v in pose.items()}
            return Prediction(landmarks[0], None if boxes is None else boxes[0], names,
                              None if score is None else score[0], transform[0], messages[0], **pose)
        return Prediction(landmarks, boxes, names, score, transform, messages if any(messages) else None, **pose)

    def track(self, frames, layout: str | None = "ibug68", queries=None, dataset: str | None = None, box=None,
              follow: bool = True, smooth: bool = False, fps: float = 30.0, min_cutoff: float = MIN_CUTOFF_HZ,
              beta: float = BETA) -> Prediction:
        """The frames of a video (a list, an (N,H,W,3) array or any iterable of images), in order, as one batched
        ``Prediction``.

        ``follow``: each frame's crop starts from the previous frame's face. A model with S begins its re-crops from
        the previous crop (S still scores every frame, and a frame without a face starts the next one afresh); a box
        model is given the box of the previous frame's landmarks (``box_from_landmarks``), the first frame's from
        ``box`` or the face finder. ``follow=False``: every frame alone, as ``predict`` answers it.
        ``smooth``: a One-Euro filter (``lm3d.inference.filters``; ``fps``, ``min_cutoff`` in Hz and ``beta`` per
        inter-ocular distance per second) over the 2D landmarks; frames without a face stay NaN. Only the 2D landmarks
        are smoothed; the pose and 3D points are each frame's own.
        """
        points, names, surface = self._queries(layout, queries)
        helper = layouts.get("ibug68")  # asked beside the queries: its eye corners give the face's size, its points a box
        asked = (torch.cat([surface[0], helper.triangle]), torch.cat([surface[1], helper.barycentric]))
        count, answers, previous = len(points), [], None
        for index, frame in enumerate(frames):
            if self.model.needs_box:
                start_box = previous if follow and previous is not None else (box if index == 0 or not follow else None)
                answer = self.predict(frame, box=start_box, queries=asked, dataset=dataset)
                found = torch.isfinite(answer.landmarks2d).all()
                previous = box_from_landmarks(answer.landmarks2d[count:], helper, self.face) if found else None
            else:
                answer = self.predict(frame, queries=asked, dataset=dataset, start_crop=previous if follow else None)
                previous = answer.transform if torch.isfinite(answer.landmarks2d).all() else None
            answers.append(answer)
        if not answers:
            raise ValueError("the video holds no frames")
        track = Prediction.stack(answers)
        first, second = helper.norm_pair
        helper2d = track.landmarks2d[:, count:]
        iod = (helper2d[:, first] - helper2d[:, second]).norm(dim=-1)
        track = Prediction(**{key: (value[:, :count] if key in ("landmarks2d", "landmarks3d", "visible") and value is not None
                                    else value) for key, value in vars(track).items()})
        track.names = names
        if smooth:
            lost = ~torch.isfinite(track.landmarks2d).all(-1).all(-1)
            scale = np.nan_to_num(iod.numpy(), nan=float(np.nanmedian(iod.numpy())) if (~lost).any() else 1.0)
            steady = torch.as_tensor(one_euro(track.landmarks2d.numpy(), fps, scale, min_cutoff, beta),
                                     dtype=torch.float32)
            steady[lost] = float("nan")
            track.landmarks2d = steady
        return track

    def _pose(self, out: dict, count: int, surface, image_size) -> dict:
        """The 3D head's outputs for the ``count`` asked points (the rest of ``out`` is the dense face)."""
        pose = {key: out[key].float().cpu() for key in ("rotation", "translation", "intrinsics")}
        pose["mesh3d"] = out["landmarks3d"][:, count:].float().cpu()
        pose["visible"] = visible_points(pose["mesh3d"], pose["rotation"], pose["translation"], pose["intrinsics"],
                                         tuple(image_size), *surface, self.face)
        pose["landmarks3d"] = out["landmarks3d"][:, :count].float().cpu()
        pose["euler"] = dict(zip(("yaw", "pitch", "roll"), camera.rotation_to_euler(pose["rotation"])))
        return pose

    def _messages(self, score: torch.Tensor, matrix: torch.Tensor) -> list[str | None]:
        messages = []
        scales = crop_scale(matrix)
        for s, c in zip(score.tolist(), scales.tolist()):
            if s < self.min_face_score:
                messages.append(f"no face found: face score {s:.2f} is below min_face_score {self.min_face_score}; "
                                "the landmarks are NaN")
            elif self.scale_range and not self.scale_range[0] <= c <= self.scale_range[1]:
                messages.append(f"the face looks {'smaller' if c < self.scale_range[0] else 'larger'} than any "
                                f"face this model was trained on (crop scale {c:.2f}, trained on "
                                f"{self.scale_range[0]:.2f}-{self.scale_range[1]:.2f} of the image); "
                                "the landmarks may be unreliable")
            else:
                messages.append(None)
        return messages

    def _boxes(self, arrays, box, batched) -> torch.Tensor:
        if box is None:
            if self.face_finder is None:
                raise ValueError("the baseline needs a face box: pass box=(x0, y0, x1, y1), or create the Detector "
                                 "with face_finder=lm3d.inference.LBPFaceFinder()")
            found = [self.face_finder(a) for a in arrays]
            if any(f is None for f in found):
                raise ValueError("the face finder found no face; pass box= explicitly")
            return torch.stack([torch.as_tensor(f, dtype=torch.float32) for f in found])
        boxes = torch.as_tensor(box, dtype=torch.float32)
        if batched:
            if boxes.shape != (len(arrays), 4):
                raise ValueError(f"a batch of {len(arrays)} images needs boxes of shape ({len(arrays)}, 4), "
                                 f"got {tuple(boxes.shape)}")
            return torch.stack([check_box(b, a.shape) for b, a in zip(boxes, arrays)])
        return check_box(boxes, arrays[0].shape)[None]
