"""A parametric face: the canonical mesh deformed by identity fields and expressions, plus a head.

Identity fields are smooth, named displacement fields on the 468 canonical vertices, each a
Gaussian "bump" or a smooth ramp placed on facial features found from the ibug68 layout (so the
fields are defined by semantics, not by vertex numbers). Coefficients are unit-free: about
N(0, 1) gives a plausible population; the scale of each field is the displacement at +1.
Expressions are non-negative strengths in [0, 1] (jaw open can reach 1 = about 20 degrees).

Landmarks and queries are surface points (triangle, barycentric), so evaluating them on the
deformed vertices gives the deformed landmarks exactly.

The face mesh is only a face: ``head_proxy`` adds an ellipsoid skull with hair, two ears and a neck
behind it so renders do not show a floating mask. The proxy is never queried.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..face import layouts
from ..face.canonical import CanonicalFace

IDENTITY_FIELDS = ("face_width", "face_height", "jaw_width", "chin_length", "nose_length", "nose_width",
                   "nose_protrusion", "eye_spacing", "eye_size", "mouth_width", "lip_thickness", "brow_height",
                   "cheek_fullness", "forehead_slope")
EXPRESSIONS = ("jaw_open", "smile_left", "smile_right", "pucker", "blink_left", "blink_right",
               "brow_raise", "frown")


@dataclass(frozen=True)
class Features:
    """Canonical positions of the features the fields are built around (cm)."""

    eye_right: torch.Tensor
    eye_left: torch.Tensor
    eye_half_width: float
    nose_tip: torch.Tensor
    nose_base: torch.Tensor
    mouth: torch.Tensor
    mouth_corner_right: torch.Tensor
    mouth_corner_left: torch.Tensor
    lip_line_y: float
    brow_right: torch.Tensor
    brow_left: torch.Tensor
    chin: torch.Tensor

    @classmethod
    def of(cls, face: CanonicalFace) -> "Features":
        p = layouts.get("ibug68").points(face)
        return cls(eye_right=p[36:42].mean(0), eye_left=p[42:48].mean(0),
                   eye_half_width=float((p[36] - p[39]).norm() / 2), nose_tip=p[30], nose_base=p[33],
                   mouth=p[48:68].mean(0), mouth_corner_right=p[48], mouth_corner_left=p[54],
                   lip_line_y=float((p[62, 1] + p[66, 1]) / 2), brow_right=p[17:22].mean(0),
                   brow_left=p[22:27].mean(0), chin=p[8])


def _bump(vertices, centre, radius):
    """(V,) Gaussian weight exp(-|v - c|^2 / 2r^2)."""
    return torch.exp(-((vertices - centre) ** 2).sum(-1) / (2 * radius ** 2))


def _ramp(values, start, end):
    """(V,) 0 below ``start``, 1 beyond ``end``, smooth in between."""
    t = ((values - start) / (end - start)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _vector(dx=0.0, dy=0.0, dz=0.0):
    return torch.stack(torch.broadcast_tensors(torch.as_tensor(dx), torch.as_tensor(dy), torch.as_tensor(dz)), -1)


def identity_basis(face: CanonicalFace) -> torch.Tensor:
    """(F,V,3) displacement of every identity field at coefficient +1, in IDENTITY_FIELDS order."""
    v, f = face.vertices, Features.of(face)
    x, y, z = v.unbind(-1)
    side = torch.sign(x)
    eyes = torch.where((x < 0)[:, None], f.eye_right, f.eye_left)
    brows = torch.where((x < 0)[:, None], f.brow_right, f.brow_left)
    cheek_centre = torch.tensor([4.5, -2.0, 3.5])
    cheeks = _bump(v, cheek_centre * torch.tensor([-1.0, 1.0, 1.0]), 2.2) + _bump(v, cheek_centre, 2.2)
    fields = {
        "face_width": _vector(dx=0.06 * x),
        "face_height": _vector(dy=0.05 * y),
        "jaw_width": _vector(dx=0.08 * x * _ramp(-y, 1.0, 7.0)),
        "chin_length": _vector(dy=-0.5 * _bump(v, f.chin, 2.5)),
        "nose_length": _vector(dy=-0.3 * _bump(v, f.nose_tip, 1.6)),
        "nose_width": _vector(dx=0.15 * x * _bump(v, f.nose_base, 1.6)),
        "nose_protrusion": _vector(dz=0.4 * _bump(v, f.nose_tip, 1.8)),
        "eye_spacing": _vector(dx=0.2 * side * _bump(v, eyes, 1.8)),
        "eye_size": sum(0.1 * (v - eye) * _bump(v, eye, 1.3)[:, None] for eye in (f.eye_right, f.eye_left)),
        "mouth_width": _vector(dx=0.12 * (x - f.mouth[0]) * _bump(v, f.mouth, 2.0)),
        "lip_thickness": _vector(dy=0.15 * (y - f.lip_line_y) * _bump(v, f.mouth, 1.5)),
        "brow_height": _vector(dy=0.3 * _bump(v, brows, 1.5)),
        "cheek_fullness": _vector(dx=0.15 * side * cheeks, dz=0.3 * cheeks),
        "forehead_slope": _vector(dz=-0.4 * _ramp(y, 4.0, 8.5)),
    }
    return torch.stack([fields[name].expand_as(v) for name in IDENTITY_FIELDS])


def _jaw_open(v, f: Features, strength):
    """Rotate the lower face about a hinge below the ears; lips part along the lip line."""
    x, y, z = v.unbind(-1)
    near_mouth = (x.abs() < 2.6).float()
    softness = 0.08 * near_mouth + 1.2 * (1 - near_mouth)  # a crisp cut between the lips, smooth on the cheeks
    weight = torch.sigmoid((f.lip_line_y - y) / softness) * _ramp(-z, 3.5, -1.0)
    angle = strength * math.radians(20.0)  # (B,1)
    pivot_y, pivot_z = 0.5, -3.0
    dy, dz = y - pivot_y, z - pivot_z
    rotated_y = pivot_y + dy * angle.cos() - dz * angle.sin()
    rotated_z = pivot_z + dy * angle.sin() + dz * angle.cos()
    return _vector(dy=weight * (rotated_y - y), dz=weight * (rotated_z - z))


def _blink(v, f: Features, eye, strength):
    """Lower the upper lid onto the lower lid (cosine window across the eye's width)."""
    x, y, _ = v.unbind(-1)
    across = ((x - eye[0]) / (1.15 * f.eye_half_width)).clamp(-1, 1)
    window = torch.cos(0.5 * math.pi * across) ** 2
    above = _ramp(y, eye[1] - 0.05, eye[1] + 0.25) * (1 - _ramp(y, eye[1] + 0.6, eye[1] + 1.6))
    return _vector(dy=-strength * 0.62 * window * above)


def expression_displacement(face: CanonicalFace, expression: torch.Tensor) -> torch.Tensor:
    """(B,V,3) displacement for expression strengths (B,E) in EXPRESSIONS order."""
    v, f = face.vertices, _features(face)
    e = expression.unbind(-1)
    out = torch.zeros(expression.shape[0], *v.shape)
    jaw, smile_l, smile_r, pucker, blink_l, blink_r, raise_, frown = (s[:, None, None] for s in e)
    out += _jaw_open(v, f, jaw[..., 0])
    for strength, corner, sign in ((smile_l, f.mouth_corner_left, 1.0), (smile_r, f.mouth_corner_right, -1.0)):
        out += strength * _vector(0.25 * sign, 0.35, -0.1) * _bump(v, corner, 1.2)[:, None]
    out += pucker * torch.stack([-0.25 * v[:, 0], torch.zeros_like(v[:, 0]), 0.35 * torch.ones_like(v[:, 0])], -1) \
        * _bump(v, f.mouth, 1.6)[:, None]
    out += _blink(v, f, f.eye_left, blink_l[..., 0]) + _blink(v, f, f.eye_right, blink_r[..., 0])
    brows = _bump(v, f.brow_right, 1.6) + _bump(v, f.brow_left, 1.6)
    out += raise_ * _vector(dy=0.45 * brows)
    inner_brows = _bump(v, f.brow_right + torch.tensor([1.3, 0, 0]), 1.0) - _bump(v, f.brow_left - torch.tensor([1.3, 0, 0]), 1.0)
    out += frown * torch.stack([0.2 * inner_brows, -0.25 * inner_brows.abs(), 0.05 * inner_brows.abs()], -1)
    return out


@lru_cache(maxsize=4)
def _features(face: CanonicalFace) -> Features:
    return Features.of(face)


@lru_cache(maxsize=4)
def _identity(face: CanonicalFace) -> torch.Tensor:
    return identity_basis(face)


def deform(face: CanonicalFace, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
    """(B,V,3) deformed face vertices for identity coefficients (B,14) and expressions (B,8)."""
    if identity.shape[-1] != len(IDENTITY_FIELDS) or expression.shape[-1] != len(EXPRESSIONS):
        raise ValueError(f"expected identity (B,{len(IDENTITY_FIELDS)}) and expression (B,{len(EXPRESSIONS)}), "
                         f"got {tuple(identity.shape)} and {tuple(expression.shape)}")
    basis = _identity(face)
    neutral = face.vertices + torch.einsum("bf,fvc->bvc", identity.float(), basis)
    return neutral + expression_displacement(face, expression.float())


@dataclass(frozen=True)
class HeadProxy:
    """An ellipsoid skull, two ears and a cylindrical neck behind the face (canonical cm)."""

    vertices: torch.Tensor  # (P,3)
    triangles: torch.Tensor  # (Q,3), indices into ``vertices``
    hair: torch.Tensor  # (P,) in [0,1]: how much of the hair colour a vertex takes (short hair)
    neck: torch.Tensor  # (P,) bool
    skull: torch.Tensor  # (P,) 1 on the skull, 0 on ears and neck: where hair can grow
    outward: torch.Tensor  # (P,3) unit direction in which hair volume pushes a skull vertex (0 elsewhere)


def _ellipsoid(centre, radii, rings=14, segments=24):
    theta = torch.linspace(0, math.pi, rings + 1)[1:-1]  # polar angle from +y, poles added separately
    phi = torch.linspace(0, 2 * math.pi, segments + 1)[:-1]
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    ring_points = torch.stack([t.sin() * p.sin(), t.cos(), t.sin() * p.cos()], -1).reshape(-1, 3)
    points = torch.cat([torch.tensor([[0.0, 1.0, 0.0]]), ring_points, torch.tensor([[0.0, -1.0, 0.0]])])
    triangles = []
    last = len(points) - 1
    for s in range(segments):
        n = (s + 1) % segments
        triangles.append([0, 1 + n, 1 + s])
        triangles.append([last, 1 + (rings - 2) * segments + s, 1 + (rings - 2) * segments + n])
        for r in range(rings - 2):
            a, b = 1 + r * segments + s, 1 + r * segments + n
            c, d = a + segments, b + segments
            triangles += [[a, b, d], [a, d, c]]
    return points * torch.tensor(radii) + torch.tensor(centre), torch.tensor(triangles)


def _cylinder(centre, radius, top, bottom, segments=16):
    phi = torch.linspace(0, 2 * math.pi, segments + 1)[:-1]
    ring = torch.stack([radius * phi.sin(), torch.zeros_like(phi), radius * phi.cos()], -1)
    points = torch.cat([ring + torch.tensor([centre[0], top, centre[1]]),
                        ring + torch.tensor([centre[0], bottom, centre[1]])])
    triangles = []
    for s in range(segments):
        n = (s + 1) % segments
        triangles += [[s, n, segments + n], [s, segments + n, segments + s]]
    return points, torch.tensor(triangles)


@lru_cache(maxsize=1)
def head_proxy() -> HeadProxy:
    """The skull sits behind the face mesh (its front stays behind the cheeks and forehead),
    the face mesh's rim lies just outside it, and the neck leaves the skull below the ears."""
    centre = (0.0, 1.2, -4.5)
    skull, skull_tris = _ellipsoid(centre=centre, radii=(7.9, 9.8, 8.5))
    # ears from eye to nose-base height, behind the jaw hinge, standing about a centimetre off the skull
    ears = [_ellipsoid(centre=(side * 8.1, 0.4, -3.6), radii=(1.0, 2.9, 1.5), rings=6, segments=10) for side in (-1, 1)]
    neck, neck_tris = _cylinder(centre=(0.0, -5.0), radius=5.2, top=-4.0, bottom=-22.0)
    parts = [(skull, skull_tris), *ears, (neck, neck_tris)]
    offsets = torch.tensor([0] + [len(p) for p, _ in parts]).cumsum(0)
    vertices = torch.cat([p for p, _ in parts])
    # wound like the face mesh (counter-clockwise seen from outside), so back faces can be culled
    triangles = torch.cat([t + o for (_, t), o in zip(parts, offsets)])[:, [0, 2, 1]]
    count = len(vertices)
    on_skull = torch.zeros(count)
    on_skull[:len(skull)] = 1
    x, y, z = skull.unbind(-1)
    hair = torch.zeros(count)
    hair[:len(skull)] = (_ramp(y - 0.35 * z, 3.0, 5.5) + _ramp(-z, 8.0, 10.5)).clamp(0, 1)
    neck_flag = torch.zeros(count, dtype=torch.bool)
    neck_flag[offsets[-2]:] = True
    outward = torch.zeros(count, 3)
    outward[:len(skull)] = torch.nn.functional.normalize(skull - torch.tensor(centre), dim=-1)
    return HeadProxy(vertices, triangles, hair, neck_flag, on_skull, outward)
