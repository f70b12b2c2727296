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
* ``peak_ranking_loss``: S's score map weighs its best local maxima against each other; the place whose crop would
  put S's template nearest the true landmarks should score highest (beyond the paper; ``TrainConfig.peak_weight``).
* ``head_3d_penalties``: the 3D head's priors: its points near the template (an L2 on the offsets, in cm), no
  drift of their overall size (else depth and size trade off freely), a weak log-normal prior on f_c, and no
  shear in the points (see ``shape_shear``: else P's points carry part of the pose that γ should).
* ``offset_penalty``: the small L2 that keeps D's query offsets (``lm3d.model.deformer``) from wandering.
* ``crop_diagnostics``: what S does, for the training log (crop size and offset against the true face's).

``Objective`` assembles the terms a model's variant needs, with the config's weights: the training loop calls it
once per step and sums what it returns.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..model import crop
from ..model.camera_head import FOCAL_PRIOR
from ..model.spatial_transformer import corner_excess, non_similarity, peak_transforms, scale_outside

LOSSES = ("l1", "wing")
# Wing (Feng et al. 2018) in units of the IOD: logarithmic below WING_WIDTH (10 % of the IOD), so small errors keep a
# strong gradient (WING_WIDTH / WING_CURVATURE = 5 times L1's at zero) where L1's is the same for every error; linear
# above, as L1, so gross errors pull no harder
WING_WIDTH, WING_CURVATURE = 0.1, 0.02


def landmark_loss(predicted, targets, mask, iod, normaliser: float, kind: str = "l1") -> torch.Tensor:
    """Sum over annotated points of the pixel error over the face's IOD (``kind``: L1 of x and y, or Wing of each),
    divided by ``normaliser``."""
    error = (predicted - targets).abs() / iod[:, None, None]
    if kind == "wing":
        linear_offset = WING_WIDTH - WING_WIDTH * math.log1p(WING_WIDTH / WING_CURVATURE)
        error = torch.where(error < WING_WIDTH, WING_WIDTH * torch.log1p(error / WING_CURVATURE), error - linear_offset)
    elif kind != "l1":
        raise ValueError(f"unknown landmark loss {kind!r}; known: {', '.join(LOSSES)}")
    return (error.sum(-1) * mask).sum() / normaliser


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


PEAK_COUNT = 4  # the local maxima of S's score map that peak_ranking_loss weighs against each other


def peak_ranking_loss(outputs: dict, template_points: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                      iod: torch.Tensor, family: str, image_size: tuple[int, int]) -> torch.Tensor:
    """Cross-entropy over S's ``PEAK_COUNT`` best local maxima (their scores as logits): the right one is the peak
    whose crop puts S's template points (``template_points`` (B,K,2), normalised crop coordinates) nearest the true
    landmarks. S attends by a softmax over its score map, so a distractor that outscores the face takes the crop,
    and the landmark loss then barely reaches the face's own score (its attention weight is near zero); this term
    compares the places S itself proposes by the landmarks alone (no box, no position target), and raises the one
    that fits. Faces only (a negative frame has no landmarks)."""
    faces = mask.any(1)
    if not faces.any():
        return outputs["score_map"].sum() * 0.0
    transforms, scores = peak_transforms(outputs["params"][faces].float(), outputs["score_map"][faces].float(), family,
                                         *image_size, PEAK_COUNT)
    with torch.no_grad():
        points = crop.to_image(template_points[faces].float().repeat_interleave(PEAK_COUNT, 0),
                               transforms.flatten(0, 1)).unflatten(0, (-1, PEAK_COUNT))  # (F,count,K,2)
        distance = (points - targets[faces, None]).norm(dim=-1)
        weights = mask[faces, None].float()
        error = (distance * weights).sum(-1) / weights.sum(-1).clamp_min(1) / iod[faces, None]
    return F.cross_entropy(scores, error.argmin(1))


FOCAL_PRIOR_SD = 1.0  # in log f_c: weak, a factor e either way costs as much as a 1 % IOD error at weight 0.01


def affine_map(points: torch.Tensor, template: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,3,3) M of the least-squares fit points ~ M template + b over the points (B,K,3) that mask (B,K) picks."""
    weights = mask.float()[..., None]
    design = torch.cat([template, torch.ones_like(template[..., :1])], -1)  # (B,K,4)
    gram = design.transpose(1, 2) @ (weights * design) + 1e-4 * torch.eye(4, device=points.device, dtype=points.dtype)
    solution = torch.linalg.solve(gram, design.transpose(1, 2) @ (weights * points))  # (B,4,3): M^T over b
    return solution[:, :3].transpose(1, 2)


def shape_shear(points: torch.Tensor, template: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) squared off-diagonal entries of :func:`affine_map` (points against the template), summed.

    Why: in an image, a head pitched by a small angle θ moves each point's y by about -θ z; a shape whose offsets
    do the same (dy = -θ z, a shear) projects identically, so P's points can carry part of the pose and γ's rotation
    the rest. SynthFaces' true shapes have almost no such shear (off-diagonal entries about 0.01 against the
    template), so penalising it gives the pose back to γ without forbidding identity or expression."""
    matrix = affine_map(points, template, mask)
    return (matrix ** 2).sum((1, 2)) - (torch.diagonal(matrix, dim1=1, dim2=2) ** 2).sum(1)


def head_3d_penalties(outputs: dict, queries: torch.Tensor, mask: torch.Tensor, weights: dict) -> dict:
    """The 3D head's priors (already weighted), over annotated points of faces (mask (B,K))."""
    faces = mask.any(1)
    if not faces.any():
        return {}
    points, mask = outputs["landmarks3d"].float()[faces], mask[faces].float()
    template = (queries.expand(len(mask), -1, -1) if queries.ndim == 2 else queries[faces]).to(points)
    count = mask.sum(1).clamp_min(1)
    offset = (((points - template) ** 2).sum(-1) * mask).sum(1) / count

    def radius(x):
        centre = (x * mask[..., None]).sum(1) / count[:, None]
        return ((((x - centre[:, None]) ** 2).sum(-1) * mask).sum(1) / count).clamp_min(1e-6).sqrt()

    drift = torch.log(radius(points) / radius(template)) ** 2
    focal = ((outputs["crop_camera"]["intrinsics"][faces, 0].log() - torch.log(torch.tensor(FOCAL_PRIOR))) /
             FOCAL_PRIOR_SD) ** 2
    terms = {"offset": weights["offset"] * offset.mean(), "scale_drift": weights["scale_drift"] * drift.mean(),
             "focal_prior": weights["focal_prior"] * focal.mean()}
    if weights["shear"] > 0:
        terms["shear"] = weights["shear"] * shape_shear(points, template, mask).mean()
    return terms


def offset_penalty(offsets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared length (cm^2) of D's query offsets (B,K,3) over annotated points (mask (B,K))."""
    mask = mask.float()
    return ((offsets.float() ** 2).sum(-1) * mask).sum() / mask.sum().clamp_min(1)


def face_loss(face_logit: torch.Tensor, is_face: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(face_logit.float(), is_face.float())


def crop_diagnostics(outputs: dict, local: dict, terms: dict, with_s: bool = True) -> dict:
    """What S is doing, for the log: its crop size against the face's, where it looks, its penalties.

    Shrinking onto nothing or drifting off the face is the known failure of a spatial transformer;
    these numbers show it long before the landmark loss does. Faces only (negatives have no face).
    """
    penalties = {f"penalty_{k}": v.item() for k, v in terms.items() if k != "landmarks"}
    faces = local["is_face"] > 0 if "is_face" in local else torch.ones(len(local["image"]), dtype=torch.bool)
    if "crop_camera" in outputs:  # the 3D head's camera: focal in crop half-widths, depth in cm
        penalties["crop_focal"] = outputs["crop_camera"]["intrinsics"][faces, 0].median().item()
        penalties["depth_cm"] = outputs["translation"][faces, 2].median().item()
    if not with_s:
        return penalties
    transform = outputs["s_transform"].detach().float()[faces]
    box = crop.box_to_transform(local["boxes"][faces].float(), 0.0)  # the tight face box, for comparison only
    face_half = box[:, 0, 0]
    offset = (transform[:, :, 2] - box[:, :, 2]).norm(dim=-1) / face_half
    return {"crop_over_face": (transform[:, :, :2].det().abs().sqrt() / face_half).median().item(),
            "crop_offset_over_face": offset.median().item(), **penalties}


class Objective:
    """The loss terms of one training step for one model and its ``TrainConfig``, already weighted, by name.

    Every model has ``landmarks``; a model with S adds ``scale``, ``corners`` (``affine`` for an affine S), ``face``
    and, with a template weight, ``template``; R adds ``coarse``; a 3D head adds its priors (and ``assist``, its 2D
    assistant's); D adds ``deformer``. ``world``: the
    number of data-parallel processes (each normalises by the global point count, so their gradients average to
    one process's)."""

    def __init__(self, model, config, scale_range: tuple[float, float] | None = None, world: int = 1):
        self.config, self.scale_range, self.world = config, scale_range, world
        self.with_s, self.with_3d = not model.needs_box, model.camera_head is not None
        self.with_deformer = model.deformer is not None
        self.template = model.template  # S's template (None without S)
        if self.with_s and scale_range is None:
            raise ValueError("a model with S needs the training faces' crop scale range")
        self.s_weights = {"scale": config.scale_weight, "corners": config.corner_weight,
                          "affine": config.affine_weight if config.model.crop == "affine" else 0.0}
        self.weights_3d = {"offset": config.offset_weight, "scale_drift": config.scale_drift_weight,
                           "focal_prior": config.focal_prior_weight, "shear": config.shear_weight}

    def __call__(self, outputs: dict, batch: dict, normaliser: float) -> dict:
        config = self.config

        def landmarks(points: torch.Tensor) -> torch.Tensor:
            return landmark_loss(points.float(), batch["targets"], batch["mask"], batch["iod"], normaliser,
                                 config.loss) * self.world

        terms = {"landmarks": landmarks(outputs["landmarks2d"])}
        if "coarse2d" in outputs:  # R's input is P's answer: P keeps answering on its own, as each stage of a cascade
            terms["coarse"] = landmarks(outputs["coarse2d"])
        if "assist2d" in outputs:  # the 3D head's 2D assistant (ModelConfig.assist_2d) learns the same landmarks
            terms["assist"] = landmarks(outputs["assist2d"])
        if self.with_s:
            terms.update(self.spatial_transformer_terms(outputs, batch, normaliser))
        if self.with_3d:  # (with D, the points stay near the deformed queries)
            terms.update(head_3d_penalties(outputs, outputs.get("queries_deformed", batch["queries"]), batch["mask"],
                                           self.weights_3d))
        if self.with_deformer:
            terms["deformer"] = config.deformer_weight * offset_penalty(outputs["query_offsets"], batch["mask"])
        return terms

    def spatial_transformer_terms(self, outputs: dict, batch: dict, normaliser: float) -> dict:
        """S's own terms: its penalties, its face score and its template's landmark loss (all that S's pre-phase,
        ``lm3d.training.localiser_pretraining``, optimises)."""
        config = self.config
        terms = spatial_transformer_penalties(outputs, tuple(batch["image"].shape[-2:]), self.scale_range,
                                              config.corner_margin, self.s_weights)
        terms["face"] = config.face_weight * face_loss(outputs["face_logit"], batch["is_face"])
        if config.peak_weight > 0:
            queries = outputs.get("queries_deformed", batch["queries"])
            template = self.template(queries)
            template = template if template.ndim == 3 else template.expand(len(batch["image"]), -1, -1)
            terms["peaks"] = config.peak_weight * peak_ranking_loss(
                outputs, template, batch["targets"], batch["mask"], batch["iod"], config.model.crop,
                tuple(batch["image"].shape[-2:]))
        if config.template_weight > 0:
            terms["template"] = config.template_weight * self.world * landmark_loss(
                outputs["template2d"].float(), batch["targets"], batch["mask"], batch["iod"], normaliser, config.loss)
        return terms
