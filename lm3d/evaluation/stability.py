"""Temporal stability of landmarks and of the crop (RoI), defined once and used everywhere.

All values are in percent, like NME. Arrays are (C, T, K, 2) for C clips of T frames (a single clip
(T, K, 2) works too); ``iod`` is (C, T) or (T,) in pixels.

* **static jitter**, on static clips (only sensor noise changes): the mean distance of each predicted
  landmark from its own per-clip mean, over the inter-ocular distance. A detector that always answers the
  same has 0; one whose answers carry i.i.d. 2D noise of standard deviation sigma per axis has about
  sigma * sqrt(pi / 2) / iod (the mean of a Rayleigh distribution).
* **motion jitter**, on moving clips: the mean frame-to-frame change of the *error*,
  |(p_t - g_t) - (p_{t-1} - g_{t-1})| / iod_t. True motion cancels, so a detector is not punished for
  following the face; what remains is the wobble around it. A detector that lags by a frame on a face
  moving at constant speed has zero motion jitter and a large error, which is why **video NME** (the NME
  of every frame) is always reported beside it: a smoothed, lagging model cannot win both.
* **RoI jitter**: the same frame-to-frame change for the crop (the region of interest): the change of the
  crop centre's offset from the true face-box centre, over the crop's size, plus the change of the log of
  the crop's size over the face's (both are ratios, so they add up as one percentage). Relative to the
  crop, because that is how much the face moves in the normalised image the landmark predictor sees. On a
  static clip it is simply how much the crop wobbles; a crop that follows a moving face at a fixed offset
  and zoom has 0.

LDEQ's NMJ (polo5/LDEQ_RwR) is the RMS form of motion jitter with a box-size normaliser; we use means
and the IOD so that jitter reads on the same scale as NME.
"""
from __future__ import annotations

import torch


def _clips(points: torch.Tensor) -> torch.Tensor:
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.ndim == 3:
        points = points[None]
    if points.ndim != 4 or points.shape[-1] != 2:
        raise ValueError(f"expected landmarks of shape (C,T,K,2) or (T,K,2), got {tuple(points.shape)}")
    return points


def _iod(iod, points: torch.Tensor) -> torch.Tensor:
    iod = torch.as_tensor(iod, dtype=torch.float32)
    iod = iod.reshape(points.shape[:2]) if iod.numel() == points.shape[0] * points.shape[1] else iod
    if iod.shape != points.shape[:2] or not (iod > 0).all():
        raise ValueError(f"expected one positive inter-ocular distance per frame, shape {tuple(points.shape[:2])}, "
                         f"got {tuple(iod.shape)}")
    return iod


def static_jitter(predicted, iod) -> float:
    """Mean distance of each landmark from its per-clip mean, over the IOD, in percent (static clips)."""
    points = _clips(predicted)
    iod = _iod(iod, points)
    spread = (points - points.mean(1, keepdim=True)).norm(dim=-1)  # (C,T,K)
    return 100 * (spread / iod[..., None]).mean().item()


def motion_jitter(predicted, truth, iod) -> float:
    """Mean frame-to-frame change of the landmark error over the IOD, in percent (moving clips)."""
    points, target = _clips(predicted), _clips(truth)
    if points.shape != target.shape or points.shape[1] < 2:
        raise ValueError(f"expected predictions and truth of one shape with at least 2 frames, got "
                         f"{tuple(points.shape)} and {tuple(target.shape)}")
    iod = _iod(iod, points)
    error = points - target
    change = (error[:, 1:] - error[:, :-1]).norm(dim=-1)  # (C,T-1,K)
    return 100 * (change / iod[:, 1:, None]).mean().item()


def video_nme(predicted, truth, iod) -> float:
    """NME over every frame of every clip, in percent."""
    points, target = _clips(predicted), _clips(truth)
    iod = _iod(iod, points)
    return 100 * ((points - target).norm(dim=-1) / iod[..., None]).mean().item()


def roi_jitter(transforms, face_boxes) -> float:
    """Frame-to-frame change of the crop's placement on the face, in percent of the crop's size.

    ``transforms`` (C,T,2,3) or (T,2,3) crop transforms (``lm3d.model.crop``: column 2 is the crop centre,
    the first two columns its half-axes, in pixels); ``face_boxes`` (C,T,4) or (T,4) the true face boxes.
    """
    transforms = torch.as_tensor(transforms, dtype=torch.float32)
    boxes = torch.as_tensor(face_boxes, dtype=torch.float32)
    if transforms.ndim == 3:
        transforms, boxes = transforms[None], boxes[None]
    if transforms.shape[-2:] != (2, 3) or boxes.shape != transforms.shape[:2] + (4,) or transforms.shape[1] < 2:
        raise ValueError(f"expected transforms (C,T,2,3) and face boxes (C,T,4) with T >= 2, got "
                         f"{tuple(transforms.shape)} and {tuple(boxes.shape)}")
    face_size = (boxes[..., 2:] - boxes[..., :2]).clamp_min(1e-6).prod(-1).sqrt()  # (C,T)
    face_centre = 0.5 * (boxes[..., :2] + boxes[..., 2:])
    crop_size = 2 * torch.linalg.det(transforms[..., :2]).abs().clamp_min(1e-12).sqrt()  # side length
    offset = (transforms[..., 2] - face_centre) / crop_size[..., None]  # (C,T,2)
    zoom = torch.log(crop_size / face_size)  # (C,T)
    moved = (offset[:, 1:] - offset[:, :-1]).norm(dim=-1) + (zoom[:, 1:] - zoom[:, :-1]).abs()
    return 100 * moved.mean().item()
