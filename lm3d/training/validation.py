"""The validation curve: how a run's NME falls with its training time, logged while it trains.

Every ``curve_every`` steps the model predicts the 68 iBUG points of ``curve_count`` faces of ``synth300w``'s
**validation** split (rendered once at the start; never the test faces the tables use), with the simulated face
boxes for a box model and no box for S, and the training log gets a line with the step, the NME in % of the
inter-ocular distance and the training seconds so far (validation time not counted). A figure of NME against
CPU minutes (``lm3d.vis.plots.validation_curves``) is then drawn from the log alone.

The model runs under ``torch.no_grad`` in eval mode and nothing random is drawn from a shared generator, so a run
with the curve gives the same weights as one without.
"""
from __future__ import annotations

import torch

from ..evaluation import metrics
from ..face import CanonicalFace, layouts
from ..inference import face_boxes, predict_batches
from ..synth import SynthFaces

CURVE_SOURCE = "synth300w"


class ValidationCurve:
    """``curve(model)``: the mean NME (%) of the validation faces, rendered once for the run."""

    def __init__(self, count: int, image_size: int, seed: int = 0):
        faces = SynthFaces(CURVE_SOURCE, "val", count, seed=seed, image_size=image_size)
        self.faces = faces.render_all(("image", "landmarks2d", "iod", "bbox"))
        self.boxes = face_boxes("simulated", self.faces["image"], self.faces["bbox"])[0]
        self.queries = layouts.get("ibug68").points(CanonicalFace.load())

    @torch.no_grad()
    def __call__(self, model) -> float:
        was_training = model.training
        model.eval()
        try:
            predicted = predict_batches(model, self.faces["image"], self.boxes, self.queries)["landmarks2d"]
        finally:
            model.train(was_training)
        return metrics.nme_per_face(predicted, self.faces["landmarks2d"], self.faces["iod"]).mean().item()
