"""Cross-sections of the canonical face, its frontal outline, and the silhouette of a posed face."""
import pytest
import torch

from lm3d.face import CanonicalFace, layouts, silhouette
from lm3d.synth import sources


@pytest.fixture(scope="module")
def face():
    return CanonicalFace.load()


def _end(face, triangle, edge_weight):
    return face.points(torch.tensor([triangle]), torch.tensor([silhouette._barycentric(face, triangle, edge_weight)]))[0]


def test_a_cross_section_is_a_connected_chain_in_its_plane_from_front_to_back(face):
    point, outward = layouts.get("ibug68").points(face)[2], torch.tensor([-1.0, 0.0])
    chain = silhouette.cross_section(face, point, outward)
    assert len(chain) > 3
    for (t0, _, b0), (t1, a1, _) in zip(chain[:-1], chain[1:]):
        torch.testing.assert_close(_end(face, t0, b0), _end(face, t1, a1))  # each segment starts where the last ended
    ends = torch.stack([_end(face, t, a) for t, a, _ in chain] + [_end(face, *chain[-1][::2])])
    assert (ends[:, 1] - point[1]).abs().max() < 1e-4  # the plane of z and (-1, 0) through the point: y is constant
    assert ends[0, 2] > ends[-1, 2]  # front first
    outline = silhouette.frontal_outline(face, chain, outward)
    reach = -face.points(outline.triangle, outline.barycentric)[0, 0]
    assert reach >= -ends[:, 0].max() - 1e-6 and reach >= -point[0] - 1e-6


def test_the_silhouette_of_a_frontal_orthographic_view_is_the_frontal_outline(face):
    indices, section = sources.silhouette_sections("synth300w")
    far = torch.tensor([0.0, 0.0, 1e4])  # a camera very far in front: nearly orthographic
    vertices = (face.vertices * torch.tensor([1.0, -1.0, -1.0]) + far)[None]  # canonical -> camera axes
    normals = face.vertex_normals() * torch.tensor([1.0, -1.0, -1.0])
    found = silhouette.silhouette(section, face.triangles, vertices, normals[None])
    on_silhouette = face.points(found.triangle[0], found.barycentric[0])
    layout_points = layouts.get("ibug68").points(face)[indices]
    assert (on_silhouette - layout_points)[:, :2].norm(dim=1).max() < 1e-3  # cm: the same points
