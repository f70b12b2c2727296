"""Landmark metrics, defined once and used by every evaluation, notebook and test.

* NME: the mean point-to-point error of a face divided by its inter-ocular distance (the
  distance between the outer eye corners of the ground-truth face), in percent. It works for
  any layout, because the normaliser comes from the face, not from the layout's points.
* FR@t: the fraction of faces whose NME exceeds t (10 % by default), in percent.
* AUC@t: the area under the cumulative error distribution (CED) from 0 to t, divided by t,
  in [0, 1]; 1 means every face has zero error.
* Only annotated points count: pass ``mask`` (K,) or (B,K) to leave points out.
* The 3D head's metrics (the second half of this file) compare pose, focal, 3D shape and visibility with
  SynthFaces' exact truth: what the paper could not measure on real data.
"""
from __future__ import annotations

import torch

from ..face import camera


def _check(predicted: torch.Tensor, target: torch.Tensor, iod: torch.Tensor, mask):
    if predicted.shape != target.shape or predicted.shape[-1] != 2 or predicted.ndim != 3:
        raise ValueError(f"expected predicted and target landmarks of shape (B,K,2), got "
                         f"{tuple(predicted.shape)} and {tuple(target.shape)}")
    iod = torch.as_tensor(iod, dtype=predicted.dtype, device=predicted.device).reshape(-1)
    if iod.shape[0] != predicted.shape[0] or not (iod > 0).all():
        raise ValueError(f"expected one positive inter-ocular distance per face, got {iod.tolist()[:8]}")
    if mask is None:
        mask = torch.ones(predicted.shape[:2], dtype=torch.bool, device=predicted.device)
    mask = torch.as_tensor(mask, device=predicted.device).bool().expand(predicted.shape[:2])
    if not mask.any(1).all():
        raise ValueError("every face needs at least one annotated point")
    return iod, mask


def nme_per_face(predicted: torch.Tensor, target: torch.Tensor, iod, mask=None) -> torch.Tensor:
    """(B,) normalised mean error in percent of the inter-ocular distance."""
    iod, mask = _check(predicted, target, iod, mask)
    error = (predicted - target).norm(dim=-1) * mask
    return 100 * error.sum(1) / mask.sum(1) / iod


def failure_rate(nme: torch.Tensor, threshold: float = 10.0) -> float:
    """Percent of faces with NME above ``threshold`` percent."""
    return 100 * (nme > threshold).float().mean().item()


def ced_curve(nme: torch.Tensor, threshold: float = 10.0, steps: int = 1001) -> tuple[torch.Tensor, torch.Tensor]:
    """Cumulative error distribution: (errors in percent, fraction of faces at or below each)."""
    errors = torch.linspace(0, threshold, steps)
    fraction = (nme.cpu()[None, :] <= errors[:, None]).float().mean(1)
    return errors, fraction


def auc(nme: torch.Tensor, threshold: float = 10.0, steps: int = 1001) -> float:
    """Area under the CED curve up to ``threshold``, normalised to [0, 1] (trapezoid rule)."""
    errors, fraction = ced_curve(nme, threshold, steps)
    return (torch.trapezoid(fraction, errors) / threshold).item()


def summarize(nme: torch.Tensor, threshold: float = 10.0) -> dict:
    """NME mean, FR and AUC of a set of faces, as plain floats for JSON."""
    return {"nme": nme.mean().item(), f"fr@{threshold:g}": failure_rate(nme, threshold),
            f"auc@{threshold:g}": auc(nme, threshold), "faces": int(nme.numel())}


# --- 3D head: pose, camera, shape and visibility against SynthFaces' exact truth -------------------------------
# (conventions of lm3d.face.camera: R maps canonical points into the OpenCV camera frame, t in cm, f in pixels)

def rotation_error_degrees(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(B,) geodesic angle between predicted and true rotations (B,3,3), in degrees."""
    camera.check_rotation(predicted, what="predicted rotation")
    camera.check_rotation(truth, what="true rotation")
    return camera.rotation_geodesic_degrees(predicted.double(), truth.double()).float()


def euler_errors(predicted: torch.Tensor, truth: torch.Tensor) -> dict:
    """(B,) absolute yaw, pitch and roll errors in degrees (``lm3d.face.camera``'s angles), wrapped to [0, 180]."""
    out = {}
    for name, p, t in zip(("yaw", "pitch", "roll"), camera.rotation_to_euler(predicted), camera.rotation_to_euler(truth)):
        out[name] = ((p - t + 180) % 360 - 180).abs()
    return out


def focal_log_error(predicted_focal: torch.Tensor, true_focal: torch.Tensor) -> torch.Tensor:
    """(B,) |log f_pred - log f_true|: 0.1 is a 10 % focal error whichever way."""
    return (predicted_focal.log() - true_focal.log()).abs()


def procrustes_aligned(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(B,K,3) ``predicted`` moved by the similarity (rotation, scale, shift) that best fits it to ``truth``
    in least squares (Umeyama 1991): what is left is shape error, not pose or size."""
    p, t = predicted.double(), truth.double()
    pc, tc = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    u, sigma, vh = torch.linalg.svd(pc.transpose(1, 2) @ tc)
    sign = torch.ones_like(sigma)
    sign[:, -1] = torch.sign(torch.linalg.det(u @ vh))  # no reflections
    rotation = u @ torch.diag_embed(sign) @ vh
    scale = (sigma * sign).sum(1) / (pc ** 2).sum((1, 2)).clamp_min(1e-12)
    return (scale[:, None, None] * pc @ rotation + t.mean(1, keepdim=True)).to(predicted.dtype)


def nme3d(predicted: torch.Tensor, truth: torch.Tensor, iod3d) -> torch.Tensor:
    """(B,) 3D NME in percent: mean point error after similarity Procrustes over the true 3D inter-ocular distance."""
    aligned = procrustes_aligned(predicted, truth)
    return 100 * (aligned - truth).norm(dim=-1).mean(1) / torch.as_tensor(iod3d).to(truth)


def ordinal_depth_accuracy(predicted_depth: torch.Tensor, true_depth: torch.Tensor, true_points: torch.Tensor,
                           neighbours: int = 8) -> torch.Tensor:
    """(B,) DAD-3DHeads' Z_n: over each point and its ``neighbours`` nearest (in the true 3D shape), the share of
    pairs whose nearer/farther order the prediction gets right. 2D supervision can only promise this much depth."""
    k = true_points.shape[1]
    n = min(neighbours, k - 1)
    distance = torch.cdist(true_points, true_points) + torch.eye(k, device=true_points.device) * 1e9
    near = distance.topk(n, largest=False).indices  # (B,K,n)
    pairs = lambda depth: depth[:, :, None] - torch.gather(depth[:, None].expand(-1, k, -1), 2, near)  # noqa: E731
    return ((pairs(predicted_depth) > 0) == (pairs(true_depth) > 0)).float().mean((1, 2))


def visibility_scores(predicted: torch.Tensor, truth: torch.Tensor) -> dict:
    """Accuracy and F1 (of "visible") of per-point visibility flags (B,K) bool, over all points, in percent."""
    p, t = predicted.bool().flatten(), truth.bool().flatten()
    hits = (p & t).sum().item()
    precision, recall = hits / max(1, p.sum().item()), hits / max(1, t.sum().item())
    return {"visibility_accuracy": 100 * (p == t).float().mean().item(),
            "visibility_f1": 100 * (2 * precision * recall / max(1e-12, precision + recall))}


def binned_means(values: torch.Tensor, by: torch.Tensor, edges) -> list[dict]:
    """Mean of ``values`` within bins of ``by`` ([edges[i], edges[i+1])): how an error depends on a condition."""
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = (by >= low) & (by < high)
        out.append({"from": float(low), "to": float(high), "faces": int(chosen.sum()),
                    "mean": values[chosen].mean().item() if chosen.any() else None})
    return out
