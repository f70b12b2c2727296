"""Landmark metrics, defined once and used by every evaluation, notebook and test.

* NME: the mean point-to-point error of a face divided by its inter-ocular distance (the
  distance between the outer eye corners of the ground-truth face), in percent. It works for
  any layout, because the normaliser comes from the face, not from the layout's points.
* FR@t: the fraction of faces whose NME exceeds t (10 % by default), in percent.
* AUC@t: the area under the cumulative error distribution (CED) from 0 to t, divided by t,
  in [0, 1]; 1 means every face has zero error.
* Only annotated points count: pass ``mask`` (K,) or (B,K) to leave points out.
"""
from __future__ import annotations

import torch


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
