"""The training objective: the landmark loss in image pixels, and the terms that keep S honest.

* ``landmark_loss``: L1 error of each annotated point in **original-image pixels** over the face's
  inter-ocular distance. Measured in the image, a crop that zooms in or out changes nothing by itself, so
  S (the spatial transformer) is moved only by what helps the landmarks. Measured in the crop instead, S
  could shrink every error by zooming out (notebook 04 shows that collapse).
* ``spatial_transformer_penalties``: hinge penalties, zero for any reasonable crop: the crop scale inside
  the range of the training faces' sizes, the crop's corners over the image (up to a margin), and for an
  affine S the distance of its matrix from a similarity.
* ``face_loss``: binary cross-entropy of S's face logit against "this image holds a face" (background-only
  frames are the negatives).
* ``crop_diagnostics``: what S does, for the training log (crop size and offset against the true face's).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import crop
from .model.spatial_transformer import corner_excess, non_similarity, scale_outside


def landmark_loss(predicted, targets, mask, iod, normaliser: float) -> torch.Tensor:
    """Sum over annotated points of the L1 pixel error over the face's IOD, divided by ``normaliser``."""
    per_point = (predicted - targets).abs().sum(-1) / iod[:, None]
    return (per_point * mask).sum() / normaliser


def spatial_transformer_penalties(outputs: dict, image_size: tuple[int, int], scale_range: tuple[float, float],
                                  corner_margin: float, weights: dict) -> dict:
    """Per-term penalties (means over the batch, already weighted) for the model outputs of an S variant."""
    matrix, shift = outputs["matrix"].float(), outputs["shift"].float()
    height, width = image_size
    terms = {"scale": weights["scale"] * scale_outside(matrix, *scale_range).mean(),
             "corners": weights["corners"] * corner_excess(matrix, shift, height, width, corner_margin).mean()}
    if matrix.shape[0] and weights.get("affine", 0) > 0:
        terms["affine"] = weights["affine"] * non_similarity(matrix).mean()
    return terms


def face_loss(face_logit: torch.Tensor, is_face: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(face_logit.float(), is_face.float())


def crop_diagnostics(outputs: dict, local: dict, terms: dict) -> dict:
    """What S is doing, for the log: its crop size against the face's, where it looks, its penalties.

    Shrinking onto nothing or drifting off the face is the known failure of a spatial transformer;
    these numbers show it long before the landmark loss does. Faces only (negatives have no face).
    """
    faces = local["is_face"] > 0
    transform = outputs["transform"].detach().float()[faces]
    box = crop.box_to_transform(local["boxes"][faces].float(), 0.0)  # the tight face box, for comparison only
    face_half = box[:, 0, 0]
    offset = (transform[:, :, 2] - box[:, :, 2]).norm(dim=-1) / face_half
    return {"crop_over_face": (transform[:, :, :2].det().abs().sqrt() / face_half).median().item(),
            "crop_offset_over_face": offset.median().item(),
            **{f"penalty_{k}": v.item() for k, v in terms.items() if k != "landmarks"}}
