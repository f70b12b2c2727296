"""The canonical face: axes, surface points, sampling, snapping, mirroring and loader errors."""
import json
import math

import pytest
import torch

import lm3d
from lm3d.face import CanonicalFace, MeshAssetError


def test_mesh_counts_and_topology(face):
    assert face.vertices.shape == (468, 3) and face.triangles.shape == (898, 3) and face.uvs.shape == (468, 2)
    edges = {tuple(sorted(e)) for t in face.triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    assert face.num_vertices - len(edges) + face.num_triangles == 1  # Euler characteristic of a disk
    assert ((face.uvs >= 0) & (face.uvs <= 1)).all()


def test_canonical_axes_as_documented(face):
    v = face.vertices
    assert v[:, 2].argmax() == 4  # nose tip is the most protruding point: z towards the viewer
    assert v[10, 1] > 8 and v[152, 1] < -9  # forehead up, chin down: y up
    assert v[33, 0] < 0 < v[263, 0]  # the subject's right eye (vertex 33) has x < 0
    assert (v[33] - v[263]).norm() == pytest.approx(8.9, abs=0.1)  # centimetres
    assert face.vertex_normals()[4, 2] > 0.9  # normals point out of the face


def test_mesh_is_mirror_symmetric(face):
    mirror = face.mirror_vertex()
    torch.testing.assert_close(face.vertices[mirror] * torch.tensor([-1.0, 1.0, 1.0]), face.vertices)
    assert torch.equal(mirror[mirror], torch.arange(468))


def test_vertex_normals_are_unit(face):
    torch.testing.assert_close(face.vertex_normals().norm(dim=1), torch.ones(468))


def test_barycentric_round_trip(face, generator):
    triangle, barycentric = face.sample(500, generator)
    points = face.points(triangle, barycentric)
    back_triangle, back_barycentric = face.surface_coordinates(points)
    torch.testing.assert_close(face.points(back_triangle, back_barycentric), points, atol=1e-4, rtol=0)
    interior = (barycentric > 0.02).all(1)  # away from edges the triangle itself must come back
    assert (back_triangle[interior] == triangle[interior]).float().mean() > 0.99
    torch.testing.assert_close(back_barycentric[interior & (back_triangle == triangle)],
                               barycentric[interior & (back_triangle == triangle)], atol=1e-3, rtol=0)


def test_vertices_round_trip(face):
    triangle, barycentric = face.surface_coordinates(face.vertices)
    torch.testing.assert_close(face.points(triangle, barycentric), face.vertices, atol=1e-5, rtol=0)


def test_points_follow_a_deformed_mesh(face, generator):
    triangle, barycentric = face.sample(50, generator)
    shift = torch.tensor([1.0, -2.0, 3.0])
    torch.testing.assert_close(face.points(triangle, barycentric, face.vertices + shift),
                               face.points(triangle, barycentric) + shift)


def _area_uniformity_statistic(face, triangle, count):
    """Chi-square statistic of per-triangle counts against counts proportional to area."""
    expected = face.triangle_areas() / face.triangle_areas().sum() * count
    observed = torch.bincount(triangle, minlength=face.num_triangles).float()
    return ((observed - expected) ** 2 / expected).sum().item()


def test_sampling_is_area_uniform(face, generator):
    count = 200_000
    triangle, barycentric = face.sample(count, generator)
    dof = face.num_triangles - 1
    limit = dof + 5 * math.sqrt(2 * dof)  # five standard deviations of a chi-square
    assert _area_uniformity_statistic(face, triangle, count) < limit
    # uniform within a triangle: the corner region w0 > 1/2 holds a quarter of the area
    assert (barycentric[:, 0] > 0.5).float().mean().item() == pytest.approx(0.25, abs=0.005)
    # ...and the same check rejects a sampler that picks triangles uniformly, so it can fail
    naive = torch.randint(0, face.num_triangles, (count,), generator=generator)
    assert _area_uniformity_statistic(face, naive, count) > limit


def test_sampling_rejects_bad_counts(face):
    with pytest.raises(ValueError, match="count"):
        face.sample(-1)
    assert face.sample(0).triangle.shape == (0,)


def test_snap_returns_the_closest_surface_point(face, generator):
    points = torch.randn(300, 3, generator=generator) * 6 + torch.tensor([0.0, 0.0, 4.0])
    triangle, barycentric, distance = face.snap(points)
    snapped = face.points(triangle, barycentric)
    torch.testing.assert_close((snapped - points).norm(dim=1), distance, atol=1e-4, rtol=0)
    # no vertex and no densely sampled surface point is closer than the snapped point
    dense = face.points(*face.sample(50_000, generator))
    nearest_dense = torch.cdist(points, torch.cat([dense, face.vertices]), compute_mode="donot_use_mm_for_euclid_dist")
    assert (distance <= nearest_dense.min(dim=1).values + 1e-4).all()


def test_snap_recovers_points_pushed_off_the_surface(face, generator):
    triangle, barycentric = face.sample(200, generator)
    keep = (barycentric > 0.1).all(1)
    triangle, barycentric = triangle[keep], barycentric[keep]
    points = face.points(triangle, barycentric)
    normals = torch.nn.functional.normalize(face.triangle_normals()[triangle], dim=1)
    snapped = face.snap(points + 0.01 * normals)
    torch.testing.assert_close(snapped.distance, torch.full_like(snapped.distance, 0.01), atol=1e-4, rtol=0)
    torch.testing.assert_close(face.points(snapped.triangle, snapped.barycentric), points, atol=1e-4, rtol=0)


def test_mirror_round_trip_and_geometry(face, generator):
    triangle, barycentric = face.sample(100, generator)
    mirrored = face.mirror(triangle, barycentric)
    flip = torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(face.points(*mirrored), face.points(triangle, barycentric) * flip, atol=1e-5, rtol=0)
    twice = face.mirror(*mirrored)
    assert torch.equal(twice.triangle, triangle)
    torch.testing.assert_close(twice.barycentric, barycentric)


@pytest.mark.parametrize("triangle, barycentric, message", [
    ([0, 1], [[1.0, 0.0, 0.0]], "matching leading shape"),
    ([0], [[0.5, 0.5]], "matching leading shape"),
    ([898], [[1.0, 0.0, 0.0]], "out of range"),
    ([-1], [[1.0, 0.0, 0.0]], "out of range"),
    ([0], [[float("nan"), 0.5, 0.5]], "NaN"),
    ([0], [[0.5, 0.2, 0.2]], "sum to 1"),
    ([0], [[1.5, -0.5, 0.0]], ">= 0"),
    ([0.0], [[1.0, 0.0, 0.0]], "integers"),
])
def test_bad_surface_points_are_rejected(face, triangle, barycentric, message):
    with pytest.raises(ValueError, match=message):
        face.points(torch.tensor(triangle), torch.tensor(barycentric))


@pytest.mark.parametrize("points, message", [
    (torch.zeros(4, 2), "shape"), (torch.tensor([[0.0, float("nan"), 0.0]]), "NaN")])
def test_bad_3d_points_are_rejected(face, points, message):
    with pytest.raises(ValueError, match=message):
        face.snap(points)


def test_points_off_the_mesh_are_rejected(face):
    with pytest.raises(ValueError, match="off the face surface"):
        face.surface_coordinates(torch.tensor([[0.0, 0.0, 20.0]]))


def test_missing_asset_says_how_to_regenerate(tmp_path):
    with pytest.raises(MeshAssetError, match="missing.*extract_canonical_face.py"):
        CanonicalFace.load(tmp_path / "nope.json")


@pytest.mark.parametrize("content", ["{not json", json.dumps({"vertices": [[0, 0, 0]]}),
                                     json.dumps({"vertices": [[0, 0, 0]] * 468, "triangles": [[0, 1, 2]],
                                                 "uvs": [[0, 0]] * 468})])
def test_corrupt_asset_says_how_to_regenerate(tmp_path, content):
    path = tmp_path / "face.json"
    path.write_text(content)
    with pytest.raises(MeshAssetError, match="extract_canonical_face.py"):
        CanonicalFace.load(path)


def test_public_entry_point():
    face = lm3d.CanonicalFace.load()
    assert isinstance(face, lm3d.CanonicalFace)


@pytest.mark.parametrize("segments", [1, 2, 4])
def test_subdivision_lies_on_the_surface_and_keeps_its_shape(face, segments):
    fine = face.subdivide(segments)
    edges = {tuple(sorted(e)) for t in face.triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    n = segments
    expected = face.num_vertices + len(edges) * (n - 1) + face.num_triangles * (n - 1) * (n - 2) // 2
    assert fine.vertices.shape == (expected, 3) and fine.triangles.shape == (face.num_triangles * n * n, 3)
    torch.testing.assert_close(fine.vertices, face.points(*fine.surface))
    distance = torch.cdist(face.vertices, fine.vertices, compute_mode="donot_use_mm_for_euclid_dist")
    assert distance.min(1).values.max() < 1e-5  # every original vertex is kept
    corners = fine.vertices[fine.triangles]
    normals = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    torch.testing.assert_close(0.5 * normals.norm(dim=1).sum(), face.triangle_areas().sum(), rtol=1e-5, atol=0)
    # same winding: each small triangle's normal points the way of its parent's
    parent = face.triangle_normals().repeat_interleave(n * n, 0)
    assert ((normals * parent).sum(1) > 0).all()
    # watertight where the face is: the finer mesh has the same Euler characteristic
    fine_edges = {tuple(sorted(e)) for t in fine.triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    assert len(fine.vertices) - len(fine_edges) + len(fine.triangles) == face.num_vertices - len(edges) + face.num_triangles


def test_subdivision_rejects_bad_segment_counts(face):
    for bad in (0, 17, 2.5, "4"):
        with pytest.raises(ValueError, match="segments"):
            face.subdivide(bad)
