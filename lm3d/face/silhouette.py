"""Cross-sections of the canonical face, its frontal outline, and the silhouette a camera sees.

Annotators of 300-W-style data put the jaw on the *visible outline* of the face. Frontal, that is the outline of
the face seen from the front; turned, the far-side points follow the silhouette, where the surface turns away from
the camera. Both are found on a **cross-section**: the curve where a plane through a jaw point, spanned by the
viewing axis z and the outline's outward direction d, cuts the mesh.

A cross-section is a chain of segments, each inside one triangle, ordered from the front of the face to its back
(the mesh's rim). Its points are exact surface points: every chain point lies on a mesh edge, and a point part of
the way along a segment has the barycentric coordinates part of the way between the segment's ends.

* :func:`cross_section` cuts the mesh; :func:`frontal_outline` is the chain point that reaches furthest along d
  (the outline seen from the front, orthographically);
* :func:`silhouette` finds, for posed faces, where each section's surface turns from facing the camera to facing
  away: the first sign change of n . p (camera at the origin) from front to back, clamped to the section's ends.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .canonical import CanonicalFace, SurfacePoints

SECTION_REACH_CM = 3.0  # how far inward from the jaw point a section runs (the cheek's wall, not the mouth or eyes)


class Section(NamedTuple):
    """Cross-sections padded to one length (the last segment repeated, with both ends at the section's end)."""

    triangle: torch.Tensor  # (J,S) long: the triangle of each segment
    start: torch.Tensor  # (J,S,3) barycentric coordinates of each segment's front end, in its triangle
    end: torch.Tensor  # (J,S,3) of its back end


def _edge_crossings(face: CanonicalFace, point: torch.Tensor, normal: torch.Tensor):
    """For every triangle the plane crosses: its two crossing points as (vertex a, vertex b, weight of b)."""
    side = (face.vertices.double() - point.double()) @ normal.double()
    crossings = {}
    for t, corners in enumerate(face.triangles.tolist()):
        found = []
        for a, b in ((corners[0], corners[1]), (corners[1], corners[2]), (corners[2], corners[0])):
            if (side[a] > 0) != (side[b] > 0):
                key = (min(a, b), max(a, b))
                found.append((key, float(side[key[0]] / (side[key[0]] - side[key[1]]))))
        if len(found) == 2:
            crossings[t] = found
    return crossings


def cross_section(face: CanonicalFace, point, outward) -> list[tuple[int, tuple, tuple]]:
    """The chain of segments (triangle, (edge, weight), (edge, weight)) of the plane through ``point`` spanned by z
    and the unit 2D direction ``outward`` (x, y), within SECTION_REACH_CM inward of the point, front to back."""
    point = torch.as_tensor(point, dtype=torch.float64)
    d = torch.tensor([float(outward[0]), float(outward[1]), 0.0], dtype=torch.float64)
    normal = torch.linalg.cross(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), d)
    crossings = _edge_crossings(face, point, normal)
    vertices = face.vertices.double()

    def position(edge_weight):
        (a, b), s = edge_weight
        return vertices[a] * (1 - s) + vertices[b] * s

    def within(edge_weight):
        return float((position(edge_weight) - point) @ d) > -SECTION_REACH_CM

    by_edge: dict = {}
    for t, ends in crossings.items():
        for e, _ in ends:
            by_edge.setdefault(e, []).append(t)
    start = min(crossings, key=lambda t: min(float((position(e) - point).norm()) for e in crossings[t]))
    chain, seen = [start], {start}
    for direction in (0, 1):  # walk out of the start triangle through each of its two crossing edges
        edge, previous = crossings[start][direction][0], start
        while True:
            following = [t for t in by_edge[edge] if t != previous and t not in seen]
            if not following or not all(within(e) for e in crossings[following[0]]):
                break
            t = following[0]
            chain.insert(len(chain) if direction else 0, t)
            seen.add(t)
            edge, previous = next(e for e, _ in crossings[t] if e != edge), t
    segments = []
    for i, t in enumerate(chain):  # orient each segment along the chain: its first end is shared with the previous
        first, second = crossings[t]
        neighbour = chain[i - 1] if i > 0 else chain[1] if len(chain) > 1 else None
        shared = neighbour is not None and first[0] in {e for e, _ in crossings[neighbour]}
        if shared != (i > 0):
            first, second = second, first
        segments.append((t, first, second))
    if float(position(segments[0][1])[2]) < float(position(segments[-1][2])[2]):  # front (larger z) first
        segments = [(t, b, a) for t, a, b in reversed(segments)]
    return segments


def _barycentric(face: CanonicalFace, triangle: int, edge_weight) -> list[float]:
    (a, b), s = edge_weight
    corners = face.triangles[triangle].tolist()
    return [(1 - s) if v == a else s if v == b else 0.0 for v in corners]


def frontal_outline(face: CanonicalFace, segments, outward) -> SurfacePoints:
    """The chain point that reaches furthest along ``outward`` (x, y): the outline of the frontal view."""
    d = torch.tensor([float(outward[0]), float(outward[1]), 0.0])
    ends = [(t, e) for t, a, b in segments for e in (a, b)]
    reach = [float(face.points(torch.tensor([t]), torch.tensor([_barycentric(face, t, e)]))[0] @ d) for t, e in ends]
    t, e = ends[max(range(len(ends)), key=reach.__getitem__)]
    return SurfacePoints(torch.tensor([t]), torch.tensor([_barycentric(face, t, e)]))


def sections(face: CanonicalFace, chains: list) -> Section:
    """Pad chains (from :func:`cross_section`) to one length and express them as barycentric tables."""
    length = max(len(c) for c in chains)
    triangle, start, end = [], [], []
    for chain in chains:
        rows = [(t, _barycentric(face, t, a), _barycentric(face, t, b)) for t, a, b in chain]
        last_t, _, last_end = rows[-1]
        rows += [(last_t, last_end, last_end)] * (length - len(rows))
        triangle.append([r[0] for r in rows])
        start.append([r[1] for r in rows])
        end.append([r[2] for r in rows])
    return Section(torch.tensor(triangle), torch.tensor(start), torch.tensor(end))


def silhouette(section: Section, triangles: torch.Tensor, vertices: torch.Tensor, normals: torch.Tensor) -> SurfacePoints:
    """(B,J) surface points where each section turns away from a camera at the origin, for posed face vertices
    (B,V,3) and their unit normals (B,V,3) in the camera frame (triangles (T,3): the face's)."""
    corners = triangles.to(vertices.device)[section.triangle.to(vertices.device)]  # (J,S,3)
    start, end = section.start.to(vertices), section.end.to(vertices)

    def facing(weights):  # (B,J,S): n . p at the segment ends (< 0 faces the camera)
        p = (vertices[:, corners] * weights[None, ..., None]).sum(-2)
        n = (normals[:, corners] * weights[None, ..., None]).sum(-2)
        return (p * n).sum(-1)

    f_start, f_end = facing(start), facing(end)
    turns = (f_start < 0) & (f_end >= 0)
    any_turn = turns.any(-1)
    first = turns.float().argmax(-1)  # (B,J): the first segment that turns away
    all_facing = (f_end < 0).all(-1)  # the silhouette lies beyond the mesh's rim: the section's back end
    segment = torch.where(any_turn, first, torch.where(all_facing, section.triangle.shape[1] - 1, 0))
    a = f_start.gather(-1, segment[..., None])[..., 0]
    b = f_end.gather(-1, segment[..., None])[..., 0]
    crossing = a / (a - b).clamp_max(-1e-12)  # where n . p = 0 along the turning segment (a < 0 <= b there)
    fraction = torch.where(any_turn, crossing, all_facing.to(a)).clamp(0, 1)
    rows = segment.cpu()
    j = torch.arange(section.triangle.shape[0])[None].expand_as(rows)
    weights = torch.lerp(section.start[j, rows].to(vertices), section.end[j, rows].to(vertices), fraction[..., None])
    return SurfacePoints(section.triangle[j, rows].to(vertices.device), weights)
