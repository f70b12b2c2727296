"""Appearance helpers: light, hair, blur, backgrounds."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lm3d.face import CanonicalFace
from lm3d.synth import appearance


@pytest.fixture(scope="module")
def face():
    return CanonicalFace.load()


def test_specular_peaks_where_the_normal_is_halfway_between_light_and_camera():
    light = torch.tensor([[0.5, 0.5, 0.0, 0.0, 0.0]])  # straight from the camera: the halfway vector is -z
    vertex = torch.tensor([[[0.0, 0.0, 50.0], [0.0, 0.0, 50.0], [0.0, 0.0, 50.0]]])
    normals = F.normalize(torch.tensor([[[0.0, 0.0, -1.0], [0.0, 0.5, -1.0], [0.0, 0.0, 1.0]]]), dim=-1)
    shine = appearance.specular(normals, vertex, light, torch.tensor([[0.2, 20.0]]))
    assert shine[0, 0] == pytest.approx(0.2, abs=1e-5) and 0 < shine[0, 1] < 0.2 * 0.9 ** 20 and shine[0, 2] == 0
    assert appearance.specular(normals, vertex, light, torch.tensor([[0.0, 20.0]])).abs().max() == 0


def test_hair_covers_the_skull_top_unless_bald_and_long_hair_reaches_down(face):
    from lm3d.synth import facemodel
    proxy = facemodel.head_proxy()
    scene = {"hair_amount": 0.7, "hairline": 7.0, "hair_length": 12.0}
    short, bald, long = appearance.hair_weights([scene, {**scene, "hair_amount": 0.0}, {**scene, "hair_length": -6.0}],
                                                face.vertices, proxy)
    top = face.num_vertices + int(proxy.vertices[:, 1].argmax())
    assert short[top] == 1 and bald.max() == 0
    # low on the side of the skull, behind the ear: only long hair reaches it
    low_back = face.num_vertices + int(((proxy.vertices - torch.tensor([7.5, -3.0, -5.0])).norm(dim=1)
                                        + 100 * (1 - proxy.skull)).argmin())
    assert short[low_back] == 0 and long[low_back] == 1
    assert (short[face.num_vertices:][proxy.neck] == 0).all() and (long[:face.num_vertices] == short[:face.num_vertices]).all()


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


def test_sampled_scenes_light_from_level_or_above_and_hair_leaves_the_brows_bare(face):
    """Renderer v5's scene distribution: a natural key light never comes from below the face (camera y points down),
    and no sampled hairline reaches the brows (v4's fringes hid them)."""
    from lm3d.face import layouts
    from lm3d.synth import facemodel, sources
    from lm3d.synth.scene import sample_scene

    scenes = [sample_scene(sources.get("synth300w"), 0, i, 0, 128, 68) for i in range(300)]
    towards_light = appearance.light_direction(torch.tensor(np.stack([s["light"] for s in scenes])))
    assert (towards_light[:, 1] <= 1e-6).all() and (towards_light[:, 1] < -0.5).any()
    brows = layouts.get("ibug68")
    brow_points = brows.points(face)[brows.group_indices("right_brow") + brows.group_indices("left_brow")]
    hair = appearance.hair_weights(scenes, brow_points, facemodel.head_proxy())[:, :len(brow_points)]
    assert hair.max() == 0
