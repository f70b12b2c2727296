"""Simulated datasets ("sources") of SynthFaces, read from ``lm3d/assets/sources.json``.

A source is a layout, an annotation **convention**, annotation noise and a scene distribution.
A convention moves groups of landmarks by fixed offsets over the canonical surface (the offset
point is snapped back onto the mesh), the way one dataset's annotators place "the jaw" or
"the brow" differently from another's. ``convention_points`` returns both the moved surface
points and the true 3D offsets, so experiments can compare what a query deformer learns with
the truth. ``scale`` multiplies every convention offset (1: as in the sources file, 0: no conventions): the
experiment of how large conventions must be before a query deformer matters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import torch

from ..face import layouts
from ..face import silhouette as silhouette_module
from ..face.canonical import ASSETS, CanonicalFace, SurfacePoints

SOURCES_FILE = ASSETS / "sources.json"
SPLITS = {"train": 1, "val": 2, "test": 3}


@dataclass(frozen=True)
class SceneSpec:
    """Ranges of the scene sampler (angles in degrees, face_scale = face width / image width)."""

    fov_deg: tuple[float, float]
    face_scale: tuple[float, float]
    yaw_sd: float
    yaw_uniform_prob: float
    yaw_max: float
    pitch_mean: float
    pitch_sd: float
    pitch_max: float
    roll_sd: float
    roll_max: float
    lighting: str  # "natural" or "studio"
    background: str  # "mixed" (natural images and procedural) or "studio" (plain)
    occlusion_prob: float
    expression_prob: float
    blur_prob: float
    noise_max: float
    grayscale_prob: float
    max_outside: float  # how much of the face (a fraction of its width) may leave the frame


@dataclass(frozen=True)
class Source:
    name: str
    id: int
    layout: str
    train: bool
    description: str
    convention: tuple[dict, ...]
    annotation_noise_iod: float
    scene: SceneSpec
    silhouette: tuple[str, ...] = ()  # layout groups whose points follow the posed face's silhouette


def load(path=SOURCES_FILE) -> dict[str, Source]:
    """Read and validate a sources file (the default one ships with lm3d)."""
    data = json.loads(Path(path).read_text())
    out = {}
    for name, entry in data["sources"].items():
        scene = entry["scene"]
        missing = {f.name for f in fields(SceneSpec)} - set(scene)
        if missing:
            raise ValueError(f"source {name!r} in {path} lacks scene fields {sorted(missing)}")
        spec = SceneSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in scene.items()})
        _check_scene(name, spec)
        if entry["layout"] not in layouts.names():
            raise ValueError(f"source {name!r}: unknown layout {entry['layout']!r}; known: {layouts.names()}")
        layout = layouts.get(entry["layout"])
        silhouette = tuple(entry.get("silhouette", ()))
        for group in silhouette:
            if group not in layout.groups:
                raise ValueError(f"source {name!r}: silhouette group {group!r} is not a group of {layout.name}")
            if any(group in rule.get("groups", ()) for rule in entry["convention"]):
                raise ValueError(f"source {name!r}: group {group!r} has both a static offset and the silhouette")
        out[name] = Source(name=name, id=entry["id"], layout=entry["layout"], train=entry["train"],
                           description=entry["description"], convention=tuple(entry["convention"]),
                           annotation_noise_iod=entry["annotation_noise_iod"], scene=spec, silhouette=silhouette)
    return out


def _check_scene(name: str, s: SceneSpec) -> None:
    def need(ok: bool, field: str, value, allowed: str):
        if not ok:
            raise ValueError(f"source {name!r}: scene field {field} = {value!r} is out of range ({allowed})")

    need(0 < s.fov_deg[0] <= s.fov_deg[1] < 180, "fov_deg", s.fov_deg, "0 < low <= high < 180 degrees")
    need(0 < s.face_scale[0] <= s.face_scale[1] <= 2, "face_scale", s.face_scale, "0 < low <= high <= 2")
    for field in ("yaw_max", "pitch_max", "roll_max"):
        need(0 <= getattr(s, field) <= 90, field, getattr(s, field), "0 to 90 degrees")
    for field in ("yaw_sd", "pitch_sd", "roll_sd", "noise_max"):
        need(getattr(s, field) >= 0, field, getattr(s, field), ">= 0")
    for field in ("yaw_uniform_prob", "occlusion_prob", "expression_prob", "blur_prob", "grayscale_prob"):
        need(0 <= getattr(s, field) <= 1, field, getattr(s, field), "a probability in [0, 1]")
    need(0 <= s.max_outside <= 0.5, "max_outside", s.max_outside, "0 to 0.5 of the face width")
    need(s.lighting in ("natural", "studio"), "lighting", s.lighting, "natural or studio")
    need(s.background in ("mixed", "studio"), "background", s.background, "mixed or studio")


@lru_cache(maxsize=1)
def _all() -> dict[str, Source]:
    return load()


def names() -> list[str]:
    return list(_all())


def get(name: str) -> Source:
    sources = _all()
    if name not in sources:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(sources)}")
    return sources[name]


def check_split(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    return SPLITS[split]


def convention_offsets(source: Source, layout: layouts.Layout, reference: torch.Tensor) -> torch.Tensor:
    """(K,3) raw offsets (before snapping) of each landmark of ``layout`` under ``source``'s convention."""
    offsets = torch.zeros(len(layout), 3)
    for rule in source.convention:
        chosen = set(rule.get("names", []))
        for group in rule.get("groups", []):
            chosen |= {layout.names[i] for i in layout.group_indices(group)}
        chosen -= set(rule.get("except_names", []))
        for name in chosen:
            i = layout.index(name)
            offset = torch.tensor(rule["offset_cm"], dtype=torch.float32)
            if rule.get("mirror_x"):
                offset[0] = offset[0] * torch.sign(reference[i, 0])
            offsets[i] += offset
    return offsets


MAX_CONVENTION_SCALE = 10.0


def check_convention_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= MAX_CONVENTION_SCALE:
        raise ValueError(f"convention_scale must be a number in [0, {MAX_CONVENTION_SCALE:g}], got {scale!r}")
    return float(scale)


@lru_cache(maxsize=None)
def _convention(name: str, scale: float) -> tuple[SurfacePoints, torch.Tensor]:
    source, face = get(name), CanonicalFace.load()
    layout = layouts.get(source.layout)
    reference = layout.points(face)
    offsets = scale * convention_offsets(source, layout, reference)
    moved = offsets.abs().sum(1) > 0
    triangle, barycentric = layout.triangle.clone(), layout.barycentric.clone()
    if moved.any():
        snapped = face.snap(reference[moved] + offsets[moved])
        triangle[moved], barycentric[moved] = snapped.triangle, snapped.barycentric
    true_offsets = face.points(triangle, barycentric) - reference
    return SurfacePoints(triangle, barycentric), true_offsets


@lru_cache(maxsize=None)
def silhouette_sections(name: str) -> tuple[list[int], silhouette_module.Section]:
    """The layout indices of a source's silhouette groups, and each point's cross-section (see
    ``lm3d.face.silhouette``): the plane through the point spanned by z and its group's outward direction in the
    frontal (x, y) plane (the normal of the group's polyline, away from the face's centre)."""
    source, face = get(name), CanonicalFace.load()
    layout = layouts.get(source.layout)
    points = layout.points(face)
    indices, chains = [], []
    for group in source.silhouette:
        members = layout.group_indices(group)
        for k, i in enumerate(members):
            before, after = points[members[max(k - 1, 0)], :2], points[members[min(k + 1, len(members) - 1)], :2]
            tangent = after - before
            outward = torch.stack([tangent[1], -tangent[0]]) / tangent.norm()
            if outward @ (points[i, :2] - points[:, :2].mean(0)) < 0:
                outward = -outward
            indices.append(i)
            chains.append(silhouette_module.cross_section(face, points[i], outward))
    return indices, silhouette_module.sections(face, chains)


def convention_points(name: str, scale: float = 1.0) -> tuple[SurfacePoints, torch.Tensor]:
    """The surface points a source's annotators label, and their offsets (K,3) from the layout's (after snapping
    onto the mesh, so a large ``scale`` can move a point less than ``scale`` times as far)."""
    points, offsets = _convention(name, check_convention_scale(scale))
    return SurfacePoints(points.triangle.clone(), points.barycentric.clone()), offsets.clone()
