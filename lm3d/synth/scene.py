"""Random scene parameters of one SynthFaces sample, deterministic per (source, split, index, seed).

Every random choice of a sample (identity, expression, camera, pose, placement, light, colours,
background, occluder, image degradations, annotation noise) is drawn here, on the CPU, from a
numpy generator seeded by ``SeedSequence([seed, source id, split id, index])``. Rendering is
then a pure function of these numbers, so a sample does not depend on the batch it is rendered
in, nor on the device, and the splits use disjoint random streams by construction.
"""
from __future__ import annotations

import numpy as np
import torch

from .appearance import BACKGROUND_FILES
from .facemodel import EXPRESSIONS, IDENTITY_FIELDS
from .sources import Source
from .textures import bank_size

NUM_TEXTURES = bank_size()
FACE_WIDTH_CM = 15.5  # x extent of the canonical face mesh
FACE_CENTRE_CM = (0.0, -0.6, 3.0)  # canonical point placed at the sampled image position
NUM_BACKGROUND_IMAGES = len(BACKGROUND_FILES)
HAIR_COLOURS = 6
IRIS_COLOURS = 5


def _clipped_normal(rng, mean, sd, limit):
    return float(np.clip(rng.normal(mean, sd), -limit, limit)) if sd > 0 else float(mean)


def _expression(rng, probability):
    strengths = np.zeros(len(EXPRESSIONS), np.float32)
    if rng.random() < probability:
        for e in rng.choice(len(EXPRESSIONS), size=rng.integers(1, 4), replace=False):
            strengths[e] = rng.uniform(0.2, 1.0)
        strengths[0] *= 0.7  # jaw_open at full strength is a shout; keep most mouths moderate
        if rng.random() < 0.3:  # blinks often come in pairs
            strengths[4] = strengths[5] = max(strengths[4], strengths[5])
    return strengths


def sample_scene(source: Source, split_id: int, index: int, seed: int, image_size: int, num_landmarks: int) -> dict:
    """All random numbers of one sample, as a flat dict of numpy arrays and floats."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, source.id, split_id, index]))
    s = source.scene
    if rng.random() < s.yaw_uniform_prob:
        yaw = float(rng.uniform(-s.yaw_max, s.yaw_max))
    else:
        yaw = _clipped_normal(rng, 0.0, s.yaw_sd, s.yaw_max)
    face_px = image_size * float(np.exp(rng.uniform(*np.log(s.face_scale))))  # log-uniform scale
    margin = (0.5 - s.max_outside) * face_px  # the face centre this far from the border: at most max_outside leaves
    return {
        "identity": np.clip(rng.normal(size=len(IDENTITY_FIELDS)), -2.5, 2.5).astype(np.float32),
        "expression": _expression(rng, s.expression_prob),
        "fov": float(rng.uniform(*s.fov_deg)),
        "face_px": face_px,
        "centre": rng.uniform(margin, image_size - margin, size=2).astype(np.float32)
        if margin < image_size / 2 else np.full(2, image_size / 2, np.float32),
        "yaw": yaw,
        "pitch": _clipped_normal(rng, s.pitch_mean, s.pitch_sd, s.pitch_max),
        "roll": _clipped_normal(rng, 0.0, s.roll_sd, s.roll_max),
        # light: ambient and directional intensity, direction (azimuth, elevation), warm/cool tint
        "light": (np.array([rng.uniform(0.55, 0.75), rng.uniform(0.25, 0.45), rng.uniform(-20, 20),
                            rng.uniform(5, 30), rng.uniform(-0.03, 0.03)], np.float32) if s.lighting == "studio" else
                  # v5: the key light from level to 60 degrees above (v4: from 30 below), as sun and ceiling
                  # lights are; light from below the face is rare in photos, and dlib missed those faces most
                  np.array([rng.uniform(0.2, 0.6), rng.uniform(0.4, 0.95), rng.uniform(-40, 40),
                            rng.uniform(0, 60), rng.uniform(-0.08, 0.08)], np.float32)),
        # colours: skin tone (0 light .. 1 dark), skin hue, lip redness, hair colour, iris colour, hair amount
        "skin": np.array([rng.uniform(0, 1), rng.uniform(-1, 1), rng.uniform(0, 1)], np.float32),
        "hair_colour": int(rng.integers(HAIR_COLOURS)),
        "iris_colour": int(rng.integers(IRIS_COLOURS)),  # unused since v4 (real eyes); drawn so later draws stay
        "hair_amount": float(0.0 if rng.random() < 0.1 else rng.uniform(0.6, 1.0)),
        # canonical y where hair starts on the forehead; the brows' top is at 5.1, so v5 keeps v3's range (v4 drew
        # it 1 cm lower, and its fringes hid the brows)
        "hairline": float(rng.uniform(5.5, 9.0)),
        "background": _background(rng, s.background),
        "occluder": _occluder(rng, s.occlusion_prob),
        "blur": float(rng.uniform(0.4, 1.6)) if rng.random() < s.blur_prob else 0.0,
        "noise": float(rng.uniform(0.0, s.noise_max)),
        "noise_shift": rng.integers(0, 1 << 16, size=2),
        "grayscale": bool(rng.random() < s.grayscale_prob),
        "colour_gain": rng.uniform(0.85, 1.15, size=3).astype(np.float32),
        "contrast": float(rng.uniform(0.8, 1.2)),
        "brightness": float(rng.uniform(-0.08, 0.08)),
        "annotation_noise": rng.normal(size=(num_landmarks, 2)).astype(np.float32),
        # v4, drawn last so that the draws above stay v3's stream (v4 maps some to new ranges: light azimuth and
        # (v5) elevation, occluder size, and the face centre's margin, whose branch can skip a draw): a real-photo
        # texture, how far it is recoloured towards the skin tone above, gloss (specular strength, shininess),
        # hair volume (cm) and length (the lowest canonical y that long hair reaches on the back and sides; above
        # the skull's top: short hair)
        "texture": int(rng.integers(NUM_TEXTURES)),
        "texture_recolour": float(rng.uniform(0.3, 0.9)),
        "gloss": np.array([rng.uniform(0.03, 0.22), rng.uniform(8.0, 40.0)], np.float32),
        "hair_volume": float(rng.uniform(0.2, 2.2)),
        "hair_length": float(rng.uniform(-9.0, 2.0) if rng.random() < 0.5 else 12.0),
    }


def _background(rng, kind: str) -> dict:
    if kind == "studio":
        grey = rng.uniform(0.3, 0.75)  # a studio backdrop: one grey-ish colour with a gentle gradient
        colour = grey + rng.uniform(-0.06, 0.06, size=(3, 1, 1)) + rng.uniform(-0.05, 0.05, size=(1, 2, 2))
        return {"kind": "plain", "grid": colour.astype(np.float32), "grid_size": 2}
    if rng.random() < 0.65:
        return {"kind": "image", "image": int(rng.integers(NUM_BACKGROUND_IMAGES)), "scale": int(rng.integers(3)),
                "offset": rng.uniform(0, 1, size=2).astype(np.float32), "flip": bool(rng.random() < 0.5)}
    return {"kind": "procedural", "grid": rng.uniform(0, 1, size=(3, 5, 5)).astype(np.float32),
            "grid_size": int(rng.integers(2, 6))}


def _occluder(rng, probability: float) -> dict | None:
    if rng.random() >= probability:
        return None
    return {"shape": "ellipse" if rng.random() < 0.5 else "rectangle",
            # centre and half sizes relative to the face box; the occluder covers part of the face
            "centre": rng.uniform(-0.55, 0.55, size=2).astype(np.float32),
            "half_size": rng.uniform(0.12, 0.32, size=2).astype(np.float32),
            "angle": float(rng.uniform(0, np.pi)),
            "colour": rng.uniform(0, 1, size=3).astype(np.float32),
            "textured": bool(rng.random() < 0.5), "texture_image": int(rng.integers(NUM_BACKGROUND_IMAGES))}


def stack(scenes: list[dict], key: str) -> torch.Tensor:
    return torch.as_tensor(np.stack([np.asarray(s[key], np.float32) for s in scenes]))
