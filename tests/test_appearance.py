"""Appearance helpers: region masks and the triangles that can show them, blur, backgrounds."""
import math

import pytest
import torch
import torch.nn.functional as F

from lm3d.synth import appearance
from lm3d.face import CanonicalFace


@pytest.fixture(scope="module")
def face():
    return CanonicalFace.load()


def test_region_triangles_are_conservative(face):
    # every texel that a pixel on an unflagged triangle can read must be plain skin (all masks 0)
    flags = appearance.region_triangles(face)
    assert 0 < flags.sum() < len(flags)
    steps = torch.linspace(0, 1, 11)
    a, b = torch.meshgrid(steps, steps, indexing="ij")
    keep = (a + b) <= 1
    weights = torch.stack([1 - a[keep] - b[keep], a[keep], b[keep]], 1)  # corners, edges and inside
    corners = face.uvs[face.triangles[~flags]]  # (T',3,2)
    uv = torch.einsum("kc,tcd->tkd", weights, corners).reshape(-1, 2)
    size = appearance.UV_SIZE
    texel = (uv * size).long().clamp(0, size - 1)
    masks = appearance.region_masks_channels_last()
    assert masks[texel[:, 1] * size + texel[:, 0]].max() == 0
    # and the flagged ones are needed: most of them do reach a painted texel
    corners = face.uvs[face.triangles[flags]]
    uv = torch.einsum("kc,tcd->tkd", weights, corners)
    texel = (uv * size).long().clamp(0, size - 1)
    reached = masks[texel[..., 1] * size + texel[..., 0]].amax((1, 2)) > 0
    assert reached.float().mean() > 0.5


@pytest.mark.parametrize("sigma", [0.4, 1.0, 1.6])
def test_blur_matches_a_convolution_reference(sigma):
    image = torch.rand(40, 36, 3, generator=torch.Generator().manual_seed(0)) * 255
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    planes = image.permute(2, 0, 1)[:, None]  # (3,1,H,W)
    expected = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    expected = F.conv2d(F.pad(expected, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    torch.testing.assert_close(appearance.gaussian_blur(image, sigma), expected[:, 0].permute(1, 2, 0),
                               atol=1e-3, rtol=1e-5)


def test_blur_keeps_constants_and_total_light():
    flat = torch.full((16, 20, 3), 77.0)
    torch.testing.assert_close(appearance.gaussian_blur(flat, 1.3), flat)
    impulse = torch.zeros(31, 31, 3)
    impulse[15, 15] = 1.0
    blurred = appearance.gaussian_blur(impulse, 1.0)
    torch.testing.assert_close(blurred.sum((0, 1)), torch.ones(3))
    torch.testing.assert_close(blurred, blurred.flip(0).flip(1))  # symmetric


@pytest.mark.parametrize("size_out", [8, 32, 100, 256])
def test_separable_bilinear_equals_interpolate(size_out):
    grid = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    weights = appearance.bilinear_weights(8, size_out)
    ours = torch.einsum("yi,ncij,xj->nyxc", weights, grid, weights)
    theirs = F.interpolate(grid, size=(size_out, size_out), mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours, theirs.permute(0, 2, 3, 1), atol=1e-6, rtol=0)


def test_background_views_are_uint8_images_of_every_kind():
    specs = [{"kind": "image", "image": 0, "scale": 1, "offset": [0.3, 0.7], "flip": False},
             {"kind": "image", "image": 0, "scale": 1, "offset": [0.3, 0.7], "flip": True},
             {"kind": "procedural", "grid": torch.rand(3, 5, 5).numpy(), "grid_size": 3},
             {"kind": "plain", "grid": torch.full((3, 2, 2), 0.5).numpy(), "grid_size": 2}]
    views = appearance.background_views(specs, 64)
    assert all(v.shape == (64, 64, 3) and v.dtype == torch.uint8 for v in views)
    assert torch.equal(views[0].flip(1), views[1])
    assert views[3].min() == views[3].max() == 128  # a plain field of 0.5
    assert torch.equal(appearance.backgrounds(specs, 64), torch.stack(views))
