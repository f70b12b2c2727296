import pytest
import torch

from lm3d.face import CanonicalFace
from lm3d.raster.uv_space import uv_map


def test_every_texel_knows_its_surface_point(face):
    """The texel's (triangle, barycentric) mixes the corners' UVs back to the texel's centre, and the face covers as
    many texels as its UV triangles have area (they do not overlap)."""
    size = 64
    texels = uv_map(size)
    index, triangle, barycentric = texels.texels()
    uv = (face.uvs[face.triangles[triangle]] * barycentric[..., None]).sum(1) * size
    centres = torch.stack([index % size + 0.5, index // size + 0.5], 1).float()  # u along columns, v down rows
    assert (uv - centres).abs().max() < 1e-3
    assert (barycentric >= -1e-6).all() and torch.allclose(barycentric.sum(1), torch.ones(len(index)))
    corners = face.uvs[face.triangles]
    area = 0.5 * ((corners[:, 1] - corners[:, 0])[:, 0] * (corners[:, 2] - corners[:, 0])[:, 1]
                  - (corners[:, 1] - corners[:, 0])[:, 1] * (corners[:, 2] - corners[:, 0])[:, 0]).abs().sum()
    assert abs(texels.covered.float().mean().item() - area.item()) < 0.02
    assert (texels.triangle[~texels.covered] == -1).all() and texels.size == size
    assert uv_map(size) is texels  # cached


def test_a_texel_on_the_forehead_maps_to_the_forehead():
    face = CanonicalFace.load()
    texels = uv_map(128)
    top = int(face.vertices[:, 1].argmax())  # the forehead's top vertex
    column, row = (face.uvs[top] * 128).long().tolist()
    row += 2  # just inside the face
    point = face.points(texels.triangle[row, column], texels.barycentric[row, column])
    assert point[1] > 7.0 and abs(point[0]) < 1.0


@pytest.mark.parametrize("size", [0, -3, 2.5, True, 10_000])
def test_a_bad_texture_size_is_refused(size):
    with pytest.raises(ValueError, match="texture size must be an integer"):
        uv_map(size)
