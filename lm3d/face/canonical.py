"""The canonical 3D face C and points on its surface.

Canonical space is the frame of the MediaPipe canonical face mesh (we checked its axes on the
mesh itself; ``tests/test_face.py`` keeps them checked):

* units are centimetres (outer eye corners are 8.9 cm apart);
* x points to the subject's **left** (the viewer's right when the face looks at the camera);
* y points **up** (forehead at y = +8.3, chin at y = -9.4);
* z points **out of the face**, towards the viewer (nose tip at z = +7.6);
* the origin lies inside the head, about 5 cm behind the eyes; the mesh is exactly
  mirror-symmetric about the plane x = 0.

"Right" and "left" in this project always mean the subject's own right and left, as in the
iBUG and WFLW annotation schemes: the right eye is on the left of a frontal image.

A point on the surface (a "query") is a triangle index plus barycentric weights (w0, w1, w2)
over that triangle's corners, p = w0 v0 + w1 v1 + w2 v2 with w >= 0 and sum w = 1. Surface points
survive any deformation of the mesh, which is why layouts and queries are stored this way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

ASSETS = Path(__file__).resolve().parent.parent / "assets"  # lm3d/assets, shared by every layer
MESH_ASSET = ASSETS / "canonical_face.json"
REGENERATE = "regenerate it with `python data_scripts/extract_canonical_face.py`"
BARYCENTRIC_TOLERANCE = 1e-4
EYE_CORNERS = (33, 263)  # mesh vertices of the outer eye corners (ibug68 points 36 and 45): the IOD's ends


class MeshAssetError(RuntimeError):
    """The canonical mesh asset is missing, unreadable or not the mesh we expect."""


class SurfacePoints(NamedTuple):
    """Points on the mesh: ``triangle`` (K,) long and ``barycentric`` (K,3) float."""

    triangle: torch.Tensor
    barycentric: torch.Tensor


class Subdivision(NamedTuple):
    """A finer mesh of the same surface: every new vertex is a known surface point of the face."""

    vertices: torch.Tensor  # (V',3) cm
    triangles: torch.Tensor  # (T',3) indices into vertices, wound like the face
    surface: SurfacePoints  # (V',) where each new vertex lies on the original mesh


class SnapResult(NamedTuple):
    triangle: torch.Tensor
    barycentric: torch.Tensor
    distance: torch.Tensor  # (K,) distance from the input point to the surface, cm


@dataclass(eq=False)
class CanonicalFace:
    """The canonical face mesh: ``vertices`` (468,3) cm, ``triangles`` (898,3), ``uvs`` (468,2)."""

    vertices: torch.Tensor
    triangles: torch.Tensor
    uvs: torch.Tensor

    @classmethod
    def load(cls, path: str | Path | None = None) -> "CanonicalFace":
        """Load the committed mesh asset (never downloads)."""
        path = Path(path) if path is not None else MESH_ASSET
        if not path.is_file():
            raise MeshAssetError(f"canonical face asset {path} is missing; {REGENERATE}")
        try:
            asset = json.loads(path.read_text())
            vertices = torch.tensor(asset["vertices"], dtype=torch.float32)
            triangles = torch.tensor(asset["triangles"], dtype=torch.long)
            uvs = torch.tensor(asset["uvs"], dtype=torch.float32)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
            raise MeshAssetError(f"canonical face asset {path} is corrupt ({error}); {REGENERATE}") from None
        if vertices.shape != (468, 3) or triangles.shape != (898, 3) or uvs.shape != (468, 2):
            raise MeshAssetError(
                f"canonical face asset {path} has vertices {tuple(vertices.shape)}, triangles "
                f"{tuple(triangles.shape)}, uvs {tuple(uvs.shape)}; expected (468, 3), (898, 3), (468, 2); {REGENERATE}")
        if not torch.isfinite(vertices).all() or triangles.min() < 0 or triangles.max() >= len(vertices):
            raise MeshAssetError(f"canonical face asset {path} has non-finite vertices or bad indices; {REGENERATE}")
        return cls(vertices, triangles, uvs)

    # --- geometry -------------------------------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return self.vertices.shape[0]

    @property
    def num_triangles(self) -> int:
        return self.triangles.shape[0]

    def corners(self) -> torch.Tensor:
        """(T,3,3): the three corner positions of every triangle."""
        return self.vertices[self.triangles]

    def triangle_normals(self) -> torch.Tensor:
        """(T,3) unnormalised normals; their length is twice the triangle area."""
        a, b, c = self.corners().unbind(1)
        return torch.linalg.cross(b - a, c - a)

    def triangle_areas(self) -> torch.Tensor:
        return 0.5 * self.triangle_normals().norm(dim=1)

    def vertex_normals(self) -> torch.Tensor:
        """(V,3) unit normals, the area-weighted mean of the adjacent triangles' normals."""
        normals = torch.zeros_like(self.vertices)
        per_triangle = self.triangle_normals()
        for corner in range(3):
            normals.index_add_(0, self.triangles[:, corner], per_triangle)
        return torch.nn.functional.normalize(normals, dim=1)

    def mirror_vertex(self) -> torch.Tensor:
        """(V,) index of each vertex's mirror image across x = 0 (the mesh is symmetric)."""
        mirrored = self.vertices * torch.tensor([-1.0, 1.0, 1.0])
        return torch.cdist(mirrored, self.vertices, compute_mode="donot_use_mm_for_euclid_dist").argmin(dim=1)

    # --- surface points -------------------------------------------------------------------
    def check_surface_points(self, triangle, barycentric) -> SurfacePoints:
        """Validate (triangle, barycentric) and return them as tensors, or raise ValueError."""
        triangle = torch.as_tensor(triangle)
        barycentric = torch.as_tensor(barycentric, dtype=torch.float32)
        if triangle.dtype.is_floating_point or triangle.dtype == torch.bool:
            raise ValueError(f"triangle indices must be integers, got dtype {triangle.dtype}")
        if barycentric.shape[-1:] != (3,) or triangle.shape != barycentric.shape[:-1]:
            raise ValueError(f"expected triangle (...,) and barycentric (...,3) with matching leading shape, "
                             f"got {tuple(triangle.shape)} and {tuple(barycentric.shape)}")
        if triangle.numel() and (triangle.min() < 0 or triangle.max() >= self.num_triangles):
            bad = triangle[(triangle < 0) | (triangle >= self.num_triangles)][0].item()
            raise ValueError(f"triangle index {bad} out of range [0, {self.num_triangles})")
        if not torch.isfinite(barycentric).all():
            raise ValueError("barycentric weights contain NaN or infinity")
        sums = barycentric.sum(-1)
        if sums.numel() and (sums - 1).abs().max() > BARYCENTRIC_TOLERANCE:
            worst = sums.flatten()[(sums.flatten() - 1).abs().argmax()].item()
            raise ValueError(f"barycentric weights must sum to 1 (found a row summing to {worst:.6f})")
        if barycentric.numel() and barycentric.min() < -BARYCENTRIC_TOLERANCE:
            raise ValueError(f"barycentric weights must be >= 0 (found {barycentric.min().item():.6f}): "
                             "the point lies outside its triangle")
        return SurfacePoints(triangle.long(), barycentric)

    def points(self, triangle, barycentric, vertices: torch.Tensor | None = None) -> torch.Tensor:
        """3D positions (...,3) of surface points; pass ``vertices`` (V,3) for a deformed mesh."""
        triangle, barycentric = self.check_surface_points(triangle, barycentric)
        vertices = self.vertices if vertices is None else vertices
        corners = vertices[self.triangles.to(vertices.device)[triangle.to(vertices.device)]]  # (...,3,3)
        return (barycentric.to(corners)[..., None] * corners).sum(-2)

    def snap(self, points, chunk: int = 1024) -> SnapResult:
        """Closest surface point to each 3D point (K,3): triangle, barycentric and distance."""
        points = _check_points(points)
        triangles, weights, distances = [], [], []
        for start in range(0, len(points), chunk):
            t, w, d = _closest_on_triangles(points[start:start + chunk], self.corners())
            triangles.append(t), weights.append(w), distances.append(d)
        if not triangles:
            return SnapResult(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3), torch.zeros(0))
        return SnapResult(torch.cat(triangles), torch.cat(weights), torch.cat(distances))

    def surface_coordinates(self, points, max_distance: float = 1e-3) -> SurfacePoints:
        """Inverse of :meth:`points`: (triangle, barycentric) of 3D points that lie on the surface.

        Raises ValueError for a point farther than ``max_distance`` cm from the mesh; use
        :meth:`snap` to project arbitrary points onto the surface on purpose.
        """
        snapped = self.snap(points)
        if len(snapped.distance) and snapped.distance.max() > max_distance:
            k = int(snapped.distance.argmax())
            raise ValueError(f"point {k} lies {snapped.distance[k].item():.4f} cm off the face surface "
                             f"(max_distance={max_distance}); use CanonicalFace.snap to project it")
        return SurfacePoints(snapped.triangle, snapped.barycentric)

    def sample(self, count: int, generator: torch.Generator | None = None) -> SurfacePoints:
        """``count`` surface points, uniform over the surface area.

        Triangles are drawn with probability proportional to their area; inside a triangle,
        (1 - sqrt(r1), sqrt(r1)(1 - r2), sqrt(r1) r2) with r1, r2 ~ U(0,1) is uniform.
        """
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        if count == 0:
            return SurfacePoints(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3))
        triangle = torch.multinomial(self.triangle_areas(), count, replacement=True, generator=generator)
        r1, r2 = torch.rand(2, count, generator=generator)
        s = r1.sqrt()
        barycentric = torch.stack([1 - s, s * (1 - r2), s * r2], dim=1)
        return SurfacePoints(triangle, barycentric)

    def subdivide(self, segments: int) -> Subdivision:
        """Split every triangle into ``segments``**2 smaller ones that lie on the same surface.

        Each edge is cut into ``segments`` equal parts; points on a shared edge are shared, so the finer
        mesh is watertight where the face is and shades smoothly. ``surface`` gives each new vertex as a
        surface point of this face, which makes any vertex of the finer mesh a query (the query picker
        uses it: a click on a plotly mesh reports a vertex, so a finer mesh gives finer picks).
        """
        if not isinstance(segments, int) or not 1 <= segments <= 16:
            raise ValueError(f"segments must be an integer in 1..16, got {segments!r}")
        n = segments
        lattice = [(a, b) for a in range(n + 1) for b in range(n + 1 - a)]  # weight a on corner 1, b on corner 2
        index, triangles, surface_triangle, surface_weights = {}, [], [], []
        for t, corners in enumerate(self.triangles.tolist()):
            local = {}
            for a, b in lattice:
                weights = (n - a - b, a, b)
                # the same corners with the same weights are the same point, whichever triangle it came from
                key = tuple(sorted((v, w) for v, w in zip(corners, weights) if w))
                if key not in index:
                    index[key] = len(index)
                    surface_triangle.append(t), surface_weights.append([w / n for w in weights])
                local[a, b] = index[key]
            for a in range(n):
                for b in range(n - a):
                    triangles.append((local[a, b], local[a + 1, b], local[a, b + 1]))
                    if a + b < n - 1:
                        triangles.append((local[a + 1, b], local[a + 1, b + 1], local[a, b + 1]))
        surface = SurfacePoints(torch.tensor(surface_triangle), torch.tensor(surface_weights, dtype=torch.float32))
        return Subdivision(self.points(*surface), torch.tensor(triangles), surface)

    def mirror(self, triangle, barycentric) -> SurfacePoints:
        """The mirror images (across x = 0) of surface points, as surface points."""
        triangle, barycentric = self.check_surface_points(triangle, barycentric)
        lookup = {tuple(sorted(t)): i for i, t in enumerate(self.triangles.tolist())}
        mirror = self.mirror_vertex()
        out_triangle, out_weights = [], []
        for t, w in zip(triangle.reshape(-1).tolist(), barycentric.reshape(-1, 3)):
            image = mirror[self.triangles[t]].tolist()
            target = lookup[tuple(sorted(image))]
            order = [image.index(v) for v in self.triangles[target].tolist()]
            out_triangle.append(target), out_weights.append(w[order])
        return SurfacePoints(torch.tensor(out_triangle, dtype=torch.long).reshape(triangle.shape),
                             torch.stack(out_weights).reshape(barycentric.shape) if out_weights
                             else barycentric.clone())

    def to(self, device) -> "CanonicalFace":
        return CanonicalFace(self.vertices.to(device), self.triangles.to(device), self.uvs.to(device))


def _check_points(points) -> torch.Tensor:
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected 3D points of shape (K, 3), got {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise ValueError("3D points contain NaN or infinity")
    return points


def _closest_on_triangles(points: torch.Tensor, corners: torch.Tensor):
    """Closest point on any of T triangles (T,3,3) for each of K points (K,3).

    Projects each point onto each triangle's plane, then clamps to the triangle by taking the
    best of (projection if inside, closest point on each of the three edges).
    """
    a, b, c = (corners[None, :, i] for i in range(3))  # (1,T,3)
    p = points[:, None]  # (K,1,3)
    # candidate 1: the projection onto the plane, valid where all its barycentric weights are >= 0
    w_plane = _barycentric_of_projection(p, a, b, c)  # (K,T,3)
    inside = (w_plane >= 0).all(-1)
    # candidates 2-4: closest points on the edges ab, bc, ca
    candidates, weights = [], []
    for (u, v, iu, iv) in ((a, b, 0, 1), (b, c, 1, 2), (c, a, 2, 0)):
        edge = v - u
        s = ((p - u) * edge).sum(-1) / (edge * edge).sum(-1).clamp_min(1e-12)
        s = s.clamp(0, 1)
        w = torch.zeros(*s.shape, 3)
        w[..., iu], w[..., iv] = 1 - s, s
        candidates.append(u + s[..., None] * edge), weights.append(w)
    projection = (w_plane[..., :1] * a + w_plane[..., 1:2] * b + w_plane[..., 2:] * c)
    candidates.append(projection), weights.append(w_plane)
    stacked = torch.stack(candidates, -2)  # (K,T,4,3)
    distance = (stacked - p[..., None, :]).norm(dim=-1)  # (K,T,4)
    distance[..., 3] = torch.where(inside, distance[..., 3], torch.inf)
    best_candidate = distance.argmin(-1)  # (K,T)
    best_distance = distance.gather(-1, best_candidate[..., None])[..., 0]  # (K,T)
    triangle = best_distance.argmin(-1)  # (K,)
    rows = torch.arange(len(points))
    which = best_candidate[rows, triangle]
    all_weights = torch.stack(weights, -2)  # (K,T,4,3)
    weight = all_weights[rows, triangle, which].clamp_min(0)
    return triangle, weight / weight.sum(-1, keepdim=True), best_distance[rows, triangle]


def _barycentric_of_projection(p, a, b, c):
    """Barycentric weights of the projection of p onto the plane of triangle (a, b, c)."""
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = (v0 * v0).sum(-1), (v0 * v1).sum(-1), (v1 * v1).sum(-1)
    d20, d21 = (v2 * v0).sum(-1), (v2 * v1).sum(-1)
    denominator = (d00 * d11 - d01 * d01).clamp_min(1e-12)
    w1 = (d11 * d20 - d01 * d21) / denominator
    w2 = (d00 * d21 - d01 * d20) / denominator
    return torch.stack([1 - w1 - w2, w1, w2], -1)
