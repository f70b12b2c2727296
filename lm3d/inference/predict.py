"""Batched prediction over tensors of images: what evaluation and training read a model's answers with.

``predict_batches`` runs a ``ContinuousLandmarkModel`` over uint8 images (N,3,H,W) in batches, with face boxes for a
box model, and returns landmarks, crop transforms, face scores (S) and the 3D head's outputs. ``dataset_codes``
picks D's code of a dataset, with a clear error for a model without D.
"""
from __future__ import annotations

import torch

POSE_KEYS = ("landmarks3d", "rotation", "translation", "intrinsics")  # a 3D head's outputs


@torch.no_grad()
def predict_batches(model, images, boxes, queries, batch_size: int = 64, dataset: str | None = None) -> dict:
    """Landmarks (N,K,2), crop transforms (N,2,3), with S face scores (N,), with a 3D head its ``POSE_KEYS``.

    ``boxes`` (N,4) is needed by a model that crops around a face box and ignored by one with S. ``dataset``: answer
    in that dataset's convention (a model with D); None: the canonical semantics.
    """
    device = next(model.parameters()).device
    out = {key: [] for key in ("landmarks2d", "transform", "face_score") + POSE_KEYS}
    for s in range(0, len(images), batch_size):
        chosen = None if not model.needs_box else boxes[s:s + batch_size].to(device)
        count = len(images[s:s + batch_size])
        codes = None if dataset is None else dataset_codes(model, dataset, count)
        result = model(images[s:s + batch_size].to(device), chosen, queries.to(device), codes)
        if "face_logit" in result:
            result["face_score"] = torch.sigmoid(result["face_logit"].float())
        for key in out:
            if key in result:
                out[key].append(result[key].float().cpu())
    return {k: torch.cat(v) if v else None for k, v in out.items()}


def dataset_codes(model, dataset: str, count: int):
    """D's indices for ``count`` images asked in ``dataset``'s convention; a clear error without D or for a stranger."""
    if model.deformer is None:
        raise ValueError(f"this model has no query deformer D (variant full has one): it cannot answer in "
                         f"{dataset!r}'s convention; use dataset=None")
    return model.deformer.index([dataset] * count)
