"""Place the landmark layouts on the canonical face and write ``lm3d/assets/layouts/*.json``.

Every point is placed from the published definition of its scheme, on MediaPipe's own contour
vertex paths (eye, brow, lip and face-oval polylines of the canonical mesh):

* a point "at fraction s of a path" sits at arc length s along the polyline through the
  path's vertices (on a mesh edge, so exactly on the surface);
* points of the subject's left side are the exact mirror images of the right side's (the mesh
  is mirror-symmetric), so flip pairs hold by construction and are verified by position;
* eye centres (five, WFLW pupils) are the surface points nearest the centroid of the eye contour.

Decisions (the schemes define points on 2D photos, so some are ours):

* ibug68 / wflw98 jaw: on the *frontal outline* of the face, as 300-W's annotators mark the outline they see.
  Guide points at equal arc length along a path from vertex 34 (at the height of the outer eye corner, where
  300-W's point 1 sits) down the cheek to the jaw angle and along the mesh rim under the chin (152), then mirrored,
  each moved along its cross-section (the plane spanned by the viewing axis z and the path's outward normal) to
  the point that reaches furthest outward: the outline seen from the front (``lm3d.face.silhouette``). On the
  upper cheeks that is the mesh's rim, about 0.5 cm outside the path; from the jaw angle to the chin the path is
  the outline already. WFLW's 33 jaw points coincide with ibug68's 17 at every other position. When a face turns,
  300-W's annotators follow the silhouette: that is the ``silhouette`` convention of ``synth300w`` in
  ``lm3d/assets/sources.json``, computed per sample by the renderer; the layout points are the frontal ones.
* Brows: ibug68's five points on the upper brow edge (as in 300-W and as WFLW's upper edge);
  WFLW's four lower-edge points at equal arc length on the closed brow contour.
* Nose: bridge from the nasion (168, the deepest midline point between the eyes) to the
  pronasale (4, the most protruding point); base from the outer-lower alae (98, 327) through
  the subnasale (2).
* Eyes: corners at 33/133 (right) and their mirrors; lid points at equal arc length
  (1/3, 2/3 for ibug68; 1/4, 1/2, 3/4 for WFLW).
* Lips: corners 61/291, Cupid's bow peaks 37/267, centres 0/17 (outer) and 13/14 (inner).

Run: ``python data_scripts/make_layouts.py`` (a second run rewrites identical files).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lm3d.face import CanonicalFace, silhouette
from lm3d.face.layouts import LAYOUT_DIR

FACE = CanonicalFace.load()
MIRROR = FACE.mirror_vertex().tolist()
HELDOUT_COUNT, HELDOUT_SEED = 200, 20240530

# MediaPipe contour paths on the subject's right side (vertex ids of the canonical mesh)
JAW_RIGHT = [34, 227, 137, 177, 215, 138, 136, 150, 149, 176, 148, 152]  # cheek outline, then the rim
JAW_CENTRE = torch.tensor([0.0, -1.0])  # (x, y) inside the jaw's curve: outward points away from it
BROW_UPPER = [70, 63, 105, 66, 107]  # outer -> inner
BROW_LOWER_CLOSED = [107, 55, 65, 52, 53, 46, 70]  # inner -> outer along the lower edge
NOSE_BRIDGE = [168, 6, 197, 195, 5, 4]
NOSE_BASE = [98, 97, 2, 326, 327]
EYE_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]  # outer corner -> inner corner
EYE_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133]
LIP_OUTER_UPPER = [61, 185, 40, 39, 37]  # corner -> Cupid's bow peak
LIP_OUTER_LOWER = [17, 84, 181, 91, 146, 61]  # centre -> corner
LIP_INNER_UPPER = [78, 191, 80, 81, 82, 13]
LIP_INNER_LOWER = [14, 87, 178, 88, 95, 78]


def mirror_path(path):
    return [MIRROR[v] for v in path]


class Point:
    """A surface point with the words that say how it was placed."""

    def __init__(self, triangle: int, barycentric, definition: str):
        self.triangle, self.barycentric, self.definition = triangle, torch.as_tensor(barycentric), definition

    @classmethod
    def on_edge(cls, weights: dict[int, float], definition: str) -> "Point":
        """A point given as weights over one or two vertices of a mesh edge."""
        for t, corners in enumerate(FACE.triangles.tolist()):
            if all(v in corners for v in weights):
                return cls(t, [weights.get(v, 0.0) for v in corners], definition)
        raise ValueError(f"no triangle holds vertices {list(weights)}")

    def position(self) -> torch.Tensor:
        return FACE.points(torch.tensor([self.triangle]), self.barycentric[None])[0]

    def mirrored(self) -> "Point":
        t, w = FACE.mirror(torch.tensor([self.triangle]), self.barycentric[None])
        return Point(int(t[0]), w[0], f"mirror image of: {self.definition}")


def vertex(v: int) -> Point:
    return Point.on_edge({v: 1.0}, f"vertex {v}")


def along(path: list[int], fraction: float) -> Point:
    """The point at ``fraction`` of the arc length of the polyline through ``path``."""
    positions = FACE.vertices[path]
    lengths = (positions[1:] - positions[:-1]).norm(dim=1)
    target = fraction * lengths.sum()
    walked = 0.0
    for i, length in enumerate(lengths.tolist()):
        if walked + length >= target - 1e-9 or i == len(lengths) - 1:
            s = min(max((target - walked) / length, 0.0), 1.0)
            s = 0.0 if s < 1e-5 else 1.0 if s > 1 - 1e-5 else s  # land exactly on vertices (the chin, say)
            weights = {path[i]: 1 - s, path[i + 1]: s} if 0 < s < 1 else {path[i + (s >= 1)]: 1.0}
            return Point.on_edge(weights, f"{fraction:.4g} of the arc {'-'.join(map(str, path))}")
        walked += length
    raise AssertionError("unreachable")


def eye_centre(upper=EYE_UPPER, lower=EYE_LOWER) -> Point:
    centroid = FACE.vertices[sorted(set(upper + lower))].mean(0)
    t, w, _ = FACE.snap(centroid[None])
    return Point(int(t[0]), w[0], "surface point nearest the centroid of the eye contour "
                 f"{'-'.join(map(str, upper))} / {'-'.join(map(str, lower))}")


def spaced(path, count):
    return [along(path, k / (count - 1)) for k in range(count)]


def lower_brow(count):  # interior points of the closed lower brow edge, inner -> outer
    return [along(BROW_LOWER_CLOSED, k / (count + 1)) for k in range(1, count + 1)]


def right_and_left(right: list[Point], left_order: list[int]):
    """Right-side points and their mirror images, the latter listed in ``left_order``."""
    return right, [right[i].mirrored() for i in left_order]


def jaw(count):
    """Points at equal arc length along the cheek-and-rim path, each moved along its cross-section to the frontal
    outline (``lm3d.face.silhouette``): the outward direction is the path's normal in the frontal (x, y) plane."""
    path = JAW_RIGHT + mirror_path(JAW_RIGHT[::-1])[1:]
    out = []
    for k in range(count):
        fraction = k / (count - 1)
        point = along(path, fraction)
        tangent = (along(path, min(fraction + 0.01, 1)).position() - along(path, max(fraction - 0.01, 0)).position())[:2]
        outward = torch.tensor([tangent[1], -tangent[0]]) / tangent.norm()
        if outward @ (point.position()[:2] - JAW_CENTRE) < 0:
            outward = -outward
        section = silhouette.cross_section(FACE, point.position(), outward)
        t, w = silhouette.frontal_outline(FACE, section, outward)
        out.append(Point(int(t[0]), w[0], f"frontal outline of the face on the cross-section (along z and the "
                         f"outward direction) through {fraction:.4g} of the arc {'-'.join(map(str, path))}"))
    return out


def eye(lid_fractions):
    upper = [along(EYE_UPPER, f) for f in lid_fractions]
    lower = [along(EYE_LOWER, f) for f in lid_fractions[::-1]]
    return [vertex(EYE_UPPER[0])] + upper + [vertex(EYE_UPPER[-1])] + lower


def mouth():
    outer_right_upper = [vertex(61), along(LIP_OUTER_UPPER, 0.5), vertex(37)]
    outer_right_lower = [along(LIP_OUTER_LOWER, 2 / 3), along(LIP_OUTER_LOWER, 1 / 3)]  # 59, 58
    outer = (outer_right_upper + [vertex(0)] + [p.mirrored() for p in outer_right_upper[::-1]]
             + [p.mirrored() for p in outer_right_lower] + [vertex(17)] + outer_right_lower[::-1])
    inner_upper = [vertex(78), along(LIP_INNER_UPPER, 0.5)]
    inner_lower = along(LIP_INNER_LOWER, 0.5)  # 67
    inner = (inner_upper + [vertex(13)] + [p.mirrored() for p in inner_upper[::-1]]
             + [inner_lower.mirrored(), vertex(14), inner_lower])
    return outer, inner


def scheme_68_like(jaw_count, brow, eye_fractions, pupils):
    """Groups shared by ibug68 and wflw98 (which differ in jaw, brow and eye sampling)."""
    brow_right, brow_left = brow
    eye_right = eye(eye_fractions)
    n = len(eye_right)
    eye_left_order = [n // 2 - i for i in range(n // 2 + 1)] + [n - 1 - i for i in range(n // 2 - 1)]
    outer, inner = mouth()
    groups = [("jaw", jaw(jaw_count)), ("right_brow", brow_right), ("left_brow", brow_left),
              ("nose_bridge", spaced(NOSE_BRIDGE, 4)), ("nose_base", spaced(NOSE_BASE, 5)),
              ("right_eye", eye_right), ("left_eye", [eye_right[i].mirrored() for i in eye_left_order]),
              ("outer_lip", outer), ("inner_lip", inner)]
    if pupils:
        centre = eye_centre()
        groups += [("right_pupil", [centre]), ("left_pupil", [centre.mirrored()])]
    return groups


def build_ibug68():
    brow = right_and_left(spaced(BROW_UPPER, 5), [4, 3, 2, 1, 0])
    return scheme_68_like(17, brow, [1 / 3, 2 / 3], pupils=False)


def build_wflw98():
    brow = right_and_left(spaced(BROW_UPPER, 5) + lower_brow(4), [4, 3, 2, 1, 0, 8, 7, 6, 5])
    return scheme_68_like(33, brow, [1 / 4, 1 / 2, 3 / 4], pupils=True)


def build_five():
    centre = eye_centre()
    return [("right_eye", [centre]), ("left_eye", [centre.mirrored()]), ("nose", [vertex(4)]),
            ("right_mouth", [vertex(61)]), ("left_mouth", [vertex(291)])]


def chain_edges(groups, closed=("right_eye", "left_eye", "outer_lip", "inner_lip", "right_brow", "left_brow")):
    edges, start = [], 0
    for group, points in groups:
        ids = list(range(start, start + len(points)))
        edges += list(zip(ids[:-1], ids[1:]))
        if group in closed and len(ids) > 5:  # close eye and lip loops and WFLW's 9-point brows
            edges.append((ids[-1], ids[0]))
        start += len(points)
    return edges


def flip_pairs(points: list[Point]):
    """(i, j) with j the mirror image of i, found by position (1e-4 cm)."""
    positions = torch.stack([p.position() for p in points])
    mirrored = positions * torch.tensor([-1.0, 1.0, 1.0])
    distance, partner = torch.cdist(mirrored, positions, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)
    if distance.max() > 1e-4:
        raise ValueError(f"point {int(distance.argmax())} has no mirror partner in its layout")
    return [(i, int(j)) for i, j in enumerate(partner.tolist()) if i < j]


def layout_json(name, description, groups, norm_pair_names=None, edges=None, flips=True, names=None):
    points = [p for _, ps in groups for p in ps]
    point_names = names or [f"{g}_{i + 1}" for g, ps in groups for i in range(len(ps))]
    if len(groups) == len(points):  # one point per group (five): name it by its group
        point_names = [g for g, _ in groups]
    norm_pair = [point_names.index(n) for n in norm_pair_names] if norm_pair_names else None
    return {
        "format": "lm3d.layout/1",
        "name": name,
        "description": description,
        "norm_pair": norm_pair,
        "edges": chain_edges(groups) if edges is None else edges,
        "flip_pairs": flip_pairs(points) if flips else [],
        "points": [{"name": n, "group": g, "triangle": p.triangle,
                    "barycentric": [round(float(w), 7) for w in p.barycentric], "definition": p.definition}
                   for n, (g, p) in zip(point_names, [(g, p) for g, ps in groups for p in ps])],
    }


def build_all():
    yield layout_json("ibug68", "iBUG / 300-W 68-point scheme (jaw 0-16, brows 17-26, nose 27-35, "
                      "eyes 36-47, outer lips 48-59, inner lips 60-67); brows on the upper edge.",
                      build_ibug68(), ["right_eye_1", "left_eye_4"])
    yield layout_json("wflw98", "WFLW 98-point scheme (jaw 0-32, brows 33-50 with upper and lower edges, "
                      "nose 51-59, 8-point eyes 60-75, lips 76-95, pupils 96-97).",
                      build_wflw98(), ["right_eye_1", "left_eye_5"])
    yield layout_json("five", "Five points: eye centres, nose tip, mouth corners (no outer eye corners, so "
                      "NME uses the face's inter-ocular distance).", build_five())
    mesh_points = [vertex(v) for v in range(FACE.num_vertices)]
    mesh_edges = sorted({tuple(sorted(e)) for t in FACE.triangles.tolist()
                         for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))})
    mp468 = layout_json("mp468", "Every vertex of the MediaPipe canonical mesh, in MediaPipe's order.",
                        [("mesh", mesh_points)], None, edges=[list(e) for e in mesh_edges],
                        names=[f"vertex_{v:03d}" for v in range(FACE.num_vertices)])
    mp468["norm_pair"] = [EYE_UPPER[0], MIRROR[EYE_UPPER[0]]]  # outer eye corners, vertices 33 and 263
    yield mp468
    sample = FACE.sample(HELDOUT_COUNT, torch.Generator().manual_seed(HELDOUT_SEED))
    heldout = [Point(int(t), w, f"area-uniform random surface point (seed {HELDOUT_SEED})")
               for t, w in zip(*sample)]
    yield layout_json("heldout", f"{HELDOUT_COUNT} area-uniform random surface points, never used in "
                      "training: the test of 'any landmark' generalization.", [("heldout", heldout)],
                      None, edges=[], flips=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the landmark layouts as JSON.")
    parser.add_argument("--out", type=Path, default=LAYOUT_DIR, help="output folder")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    for layout in build_all():
        path = out / f"{layout['name']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(layout, indent=1) + "\n")
        tmp.replace(path)
        print(f"wrote {path} ({len(layout['points'])} points, {len(layout['flip_pairs'])} flip pairs)")


if __name__ == "__main__":
    main()
