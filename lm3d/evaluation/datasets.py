"""A detector scored on a dataset the user brings (300-W, WFLW, a folder of their own): NME, FR, AUC, CED.

The dataset's own normalisation: each face's error is divided by its inter-ocular distance, the distance between
the outer eye corners of its annotation (the layout's ``norm_pair``), as 300-W's and WFLW's papers report it. A
box model (the baseline) is given the dataset's face box where it has one (WFLW), else the box of lm3d's training
convention built from the annotated landmarks (``lm3d.inference.box_from_landmarks``: the usual "ground-truth
box" protocol, a bound that a real face finder does not reach); a model with S finds each face itself. A face that
S does not find counts as a failure in FR and AUC and is left out of the mean NME, which says how many it covers.

    python -m lm3d.evaluate --checkpoint CKPT --dataset 300w --root /data/300W --out E.json --ced ced.png
"""
from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm

from ..face import layouts
from ..inference import Detector, read_image
from ..io.datasets import LandmarkDataset, face_box, iod_corners
from .metrics import auc, ced_curve, failure_rate, nme_per_face


def face_errors(detector: Detector, data: LandmarkDataset, progress: bool = True, convention: str | None = None) -> list[dict]:
    """Every face's NME (inf where no face was found) with its image and subsets; ``convention``: the predictions
    answer in that dataset's convention (a model with D: one of its training datasets or one taught it by
    ``lm3d adapt``), None: the model's canonical semantics."""
    layout = layouts.get(data.layout)
    first, second = iod_corners(layout)
    faces = []
    for sample in tqdm(data.samples, desc=f"evaluate {data.name}", unit="face", disable=not progress or None):
        iod_corners(layout, sample)
        truth = torch.as_tensor(sample.landmarks, dtype=torch.float32)
        box = face_box(sample, layout) if detector.model.needs_box else None
        predicted = detector.predict(read_image(sample.image), box=box, layout=data.layout,
                                     dataset=convention).landmarks2d
        iod = (truth[first] - truth[second]).norm()
        known = torch.isfinite(truth).all(1)
        nme = (math.inf if not torch.isfinite(predicted).all()
               else nme_per_face(predicted[None], torch.nan_to_num(truth)[None], iod[None], known[None]).item())
        faces.append({"image": str(sample.image), "nme": nme, "subsets": list(sample.subsets)})
    return faces


def summary(nmes, threshold: float = 10.0) -> dict:
    """NME over the faces found, FR and AUC over all of them (a face not found is a failure), counts."""
    nmes = torch.as_tensor(nmes, dtype=torch.float64)
    found = torch.isfinite(nmes)
    return {"nme": nmes[found].mean().item() if found.any() else None, f"fr@{threshold:g}": failure_rate(nmes, threshold),
            f"auc@{threshold:g}": auc(nmes, threshold), "faces": int(nmes.numel()), "faces_not_found": int((~found).sum())}


def evaluate_dataset(detector: Detector, data: LandmarkDataset, threshold: float = 10.0, progress: bool = True,
                     convention: str | None = None) -> dict:
    """The dataset's scores: overall and per subset, every face's NME, and the CED curve (``convention``: as in
    ``face_errors``)."""
    faces = face_errors(detector, data, progress, convention)
    nmes = [f["nme"] for f in faces]
    subsets = sorted({s for f in faces for s in f["subsets"]})
    errors, fraction = ced_curve(torch.as_tensor(nmes), threshold)
    return {"dataset": data.name, "layout": data.layout, "convention": convention, "threshold": threshold,
            **summary(nmes, threshold),
            "subsets": {name: summary([f["nme"] for f in faces if name in f["subsets"]], threshold) for name in subsets},
            "ced": {"errors": errors.tolist()[::10], "fraction": fraction.tolist()[::10]},
            "per_face": [{**f, "nme": f["nme"] if np.isfinite(f["nme"]) else None} for f in faces]}
