"""The 3D head's side benefits against SynthFaces' exact truth: the dense 3D face and texture completion.

    dense.nme3d               every one of the 468 mesh vertices of the predicted dense face against the true deformed
                              vertices (identity and expression), after similarity Procrustes, in % of the true 3D
                              inter-ocular distance (``metrics.nme3d``); with its median and per-face values
    dense.template_nme3d      the floor to beat: the undeformed canonical template against the same truth
    dense.beats_template      the share of faces (%) whose predicted face is nearer the truth than the template
    texture.single.<who>      per test face, one frame: PSNR (dB) of the texture sampled into the canonical UV space
                              (``lm3d.applications.texture``) against the texture truth, over the observed texels and
                              over the mirror-filled ones, and the share of the face's texels in each
    texture.clips.<who>       on moving SynthFaces clips: ``single`` (each frame alone, averaged over the frames)
                              against ``fused`` (the frames fused, then mirror-filled)

``<who>`` is ``model`` (the model's geometry: its dense face, pose and camera) or ``oracle`` (the same sampling
with the TRUE shape, pose and camera): the oracle shows what image formation alone loses, so the gap between the two
is the model's. Beside the mirror fill, two references for the same filled texels: ``flat_fill_psnr`` (every hidden
texel the mean observed colour: the floor a fill must beat) and ``mirrored_truth_psnr`` (the truth's own mirror
image: what mirroring could give with perfect sampling; the rest is the face's and the light's asymmetry).

**The texture truth** is ``lm3d.synth.uv_truth.render_uv``: each texel's surface point as the renderer paints it in
that scene, lit as in the image, with the image's colour transform, without blur, noise or occluders. Not the bank's
albedo: no photo shows the albedo, and comparing with it would measure the light rather than the sampling. Texels the
camera did not see have their truth too (the renderer's light casts no shadows), so a filled texel is scored against
the colour that surface would show under the same light. A fused clip is scored against the mean of its frames'
truths (the light on the face changes as the head turns). Occluders stay in the test images: a hand is not in any
predicted mesh, so the oracle samples it as skin too, and it costs both alike.

PSNR is 10 log10(1 / MSE) over the texels and colour channels of a region, colours in [0, 1], per face (per clip),
then averaged over faces; a face whose region is empty counts in ``faces_without_<region>`` instead.
"""
from __future__ import annotations

import math

import torch

from ..applications.texture import fuse_textures, mirror_fill, sample_texture
from ..face import EYE_CORNERS, CanonicalFace
from ..inference import Prediction
from ..inference.predict import predict_batches
from ..raster.uv_space import uv_map
from ..synth import SynthFaces, pose_scenes
from ..synth.uv_truth import render_uv
from ..synth.video import clip_scenes, render_clip
from . import metrics
from .test_sets import found_faces, test_faces

TEXTURE_SIZE = 128  # texels a side: a 256-pixel test image's face spans about 40-150 pixels
CLIP_LENGTH = 48  # frames of a moving clip (a new pose keyframe every 12); ``frames`` of them are used, evenly spaced
TRUTH_KEYS = ("image", "bbox", "rotation", "translation", "intrinsics")


def evaluate_applications(model, source: str = "synth300w", count: int = 50, image_size: int = 256, seed: int = 0,
                          boxes: str = "simulated", clips: int = 8, frames: int = 8,
                          texture_size: int = TEXTURE_SIZE) -> dict:
    """Every measure of the module docstring for a model with a 3D head, on ``count`` test faces and ``clips`` clips
    of ``frames`` frames of ``source``."""
    if model.camera_head is None:
        raise ValueError("the dense face and texture completion need a model with a 3D head (variant crop-3d, s-3d "
                         "or full); this model answers 2D landmarks only")
    if count < 1 or clips < 0 or not 1 <= frames <= CLIP_LENGTH:
        raise ValueError(f"need count >= 1, clips >= 0 and 1 <= frames <= {CLIP_LENGTH}; got {count}, {clips}, {frames}")
    faces = test_faces(source, count, image_size, seed, keys=TRUTH_KEYS, truth=_dense_truth)
    faces["index"] = torch.arange(count)
    faces, chosen, found = found_faces(model, boxes, faces, f"{source}/test")
    out = {"source": source, "faces": len(faces["image"]), "found_percent": found, "texture_size": texture_size}
    if len(faces["image"]) == 0:
        return out
    predicted = predict_batches(model, faces["image"], chosen, CanonicalFace.load().vertices)
    out["dense"] = dense_errors(predicted["landmarks3d"], faces["vertices"], faces["iod3d"])
    scenes = SynthFaces(source, "test", count, seed=seed, image_size=image_size).scenes(faces["index"].tolist())
    truth, _ = render_uv(scenes, image_size, texture_size)
    single = {"model": [], "oracle": []}
    for i, image in enumerate(faces["image"]):
        for who, prediction in (("model", _prediction(predicted, i)), ("oracle", _prediction(faces, i, "vertices"))):
            single[who].append(texture_scores(sampled_or_none(image, prediction, texture_size), truth[i]))
    out["texture"] = {"single": {who: mean_scores(rows) for who, rows in single.items()}}
    if clips:
        out["texture"]["clips"] = clip_texture_scores(model, source, clips, frames, image_size, seed, boxes, texture_size)
    return out


def dense_errors(predicted: torch.Tensor, truth: torch.Tensor, iod3d: torch.Tensor) -> dict:
    """The predicted dense faces (B,V,3) against the true ones, beside the canonical template against the same."""
    nme = metrics.nme3d(predicted.float(), truth.float(), iod3d)
    template = metrics.nme3d(CanonicalFace.load().vertices.expand_as(truth), truth.float(), iod3d)
    return {"nme3d": nme.mean().item(), "nme3d_median": nme.median().item(), "template_nme3d": template.mean().item(),
            "beats_template": 100 * (nme < template).float().mean().item(), "nme3d_per_face": nme.tolist()}


def sampled_or_none(image: torch.Tensor, prediction: Prediction, size: int):
    """The ``SampledTexture`` of one (3,H,W) uint8 image, or None when the predicted face misses the image."""
    try:
        return sample_texture(image.permute(1, 2, 0).numpy(), prediction, size)
    except ValueError:  # the predicted face lies outside the image (a wild guess of an untrained model)
        return None


def texture_scores(sampled, truth: torch.Tensor) -> dict:
    """PSNRs and shares of a ``SampledTexture`` (None: nothing observed) against the truth (S,S,3)."""
    covered = uv_map(truth.shape[0]).covered
    if sampled is None:
        return {"observed_psnr": None, "filled_psnr": None, "flat_fill_psnr": None, "mirrored_truth_psnr": None,
                "observed_percent": 0.0, "filled_percent": 0.0, "unknown_percent": 100.0}
    completed = mirror_fill(sampled.texture, sampled.observed)
    filled = completed.filled
    flat = sampled.texture[sampled.observed].mean(0) if sampled.observed.any() else torch.zeros(3)
    share = lambda mask: 100 * mask.sum().item() / covered.sum().item()  # noqa: E731
    return {"observed_psnr": psnr(sampled.texture, truth, sampled.observed),
            "filled_psnr": psnr(completed.texture, truth, filled),
            "flat_fill_psnr": psnr(flat.expand_as(truth), truth, filled),
            "mirrored_truth_psnr": psnr(mirror_fill(truth, sampled.observed).texture, truth, filled),
            "observed_percent": share(sampled.observed), "filled_percent": share(filled),
            "unknown_percent": share(completed.unknown)}


def clip_texture_scores(model, source: str, clips: int, frames: int, image_size: int, seed: int, boxes: str,
                        size: int) -> dict:
    """``single`` frames against ``fused`` over ``clips`` moving clips, for the model and the oracle."""
    rows = {who: {"single": [], "fused": []} for who in ("model", "oracle")}
    face = CanonicalFace.load()
    for clip in range(clips):
        scenes = clip_scenes(source, CLIP_LENGTH, "moving", seed, clip, image_size)[::CLIP_LENGTH // frames][:frames]
        rendered = {key: value for key, value in render_clip(source, scenes, image_size).items() if key in TRUTH_KEYS}
        rendered.update(_dense_truth(pose_scenes(scenes, image_size)), index=torch.arange(len(scenes)))
        shown, chosen, _ = found_faces(model, boxes, rendered, f"{source}/clip{clip}")
        if len(shown["image"]) == 0:
            continue
        truth = render_uv([scenes[i] for i in shown["index"].tolist()], image_size, size)[0]
        predicted = predict_batches(model, shown["image"], chosen, face.vertices)
        for who, source_of in (("model", lambda i: _prediction(predicted, i)),
                               ("oracle", lambda i: _prediction(shown, i, "vertices"))):
            sampled = [sampled_or_none(image, source_of(i), size) for i, image in enumerate(shown["image"])]
            rows[who]["single"] += [texture_scores(s, t) for s, t in zip(sampled, truth)]
            seen = [s for s in sampled if s is not None]
            rows[who]["fused"].append(texture_scores(fuse_textures(seen) if seen else None, truth.mean(0)))
    return {"clips": clips, "frames": frames, "clip_length": CLIP_LENGTH,
            **{who: {kind: mean_scores(r) for kind, r in kinds.items()} for who, kinds in rows.items()}}


def mean_scores(rows: list[dict]) -> dict:
    """The mean of each score over faces (frames, clips); a PSNR over those that have one, the others counted in
    ``faces_without_observed`` and ``faces_without_filled`` (an empty region)."""
    out = {}
    for key in rows[0] if rows else ():
        values = [row[key] for row in rows if row[key] is not None]
        out[key] = sum(values) / len(values) if values else None
    for region in ("observed", "filled"):
        out[f"faces_without_{region}"] = sum(row[f"{region}_psnr"] is None for row in rows)
    return out


def psnr(texture: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> float | None:
    """10 log10(1 / MSE) in dB over the texels of ``region`` (S,S) and the three channels; None for an empty region."""
    if not region.any():
        return None
    error = (texture.float().clamp(0, 1) - truth.float())[region].square().mean().item()
    return 10 * math.log10(1 / max(error, 1e-10))


def _dense_truth(geometry: dict) -> dict:
    """The true deformed face (B,468,3) canonical cm and its 3D inter-ocular distance, from ``pose_scenes``."""
    vertices = geometry["vertices"][:, :CanonicalFace.load().num_vertices]
    return {"vertices": vertices, "iod3d": (vertices[:, EYE_CORNERS[0]] - vertices[:, EYE_CORNERS[1]]).norm(dim=-1)}


def _prediction(answers: dict, i: int, mesh_key: str = "landmarks3d") -> Prediction:
    """Face ``i`` of batched 3D answers (a model's, or the truth's: the oracle) as the ``Prediction`` a detector gives."""
    return Prediction(torch.empty(0, 2), None, None, rotation=answers["rotation"][i],
                      translation=answers["translation"][i], intrinsics=answers["intrinsics"][i],
                      mesh3d=answers[mesh_key][i])
