import math

import numpy as np
import pytest
import torch

from lm3d.applications import fuse_textures, mirror_fill, sample_texture
from lm3d.applications.texture import SampledTexture
from lm3d.face import camera
from lm3d.inference import Detector, Prediction
from lm3d.raster.uv_space import uv_map
from lm3d.synth import SynthFaces, pose_scenes, render_scenes
from lm3d.synth.uv_truth import render_uv

IMAGE_SIZE, SIZE = 128, 64


def psnr(texture, truth, region):
    return 10 * math.log10(1 / (texture - truth)[region].square().mean().item())


def true_prediction(geometry, i, rotation=None, shift=(0.0, 0.0, 0.0)) -> Prediction:
    """What a perfect 3D head would answer for face ``i``: its true shape, pose and camera (optionally disturbed)."""
    turn = rotation if rotation is not None else torch.eye(3)
    return Prediction(torch.empty(0, 2), None, None, rotation=geometry["rotation"][i] @ turn,
                      translation=geometry["translation"][i] + torch.tensor(shift), intrinsics=geometry["intrinsics"][i],
                      mesh3d=geometry["vertices"][i, :468])


@pytest.fixture(scope="module")
def clean_faces():
    """Four synth300w test faces with no blur, noise or occluder, their true geometry and their texture truth."""
    data = SynthFaces("synth300w", "test", 4, image_size=IMAGE_SIZE)
    scenes = data.scenes(range(4))
    for scene in scenes:
        scene.update(blur=0.0, noise=0.0, occluder=None)
    rendered = render_scenes(scenes, data.spec, data.queries, data.layout.name, IMAGE_SIZE)
    truth, covered = render_uv(scenes, IMAGE_SIZE, SIZE)
    images = [image.permute(1, 2, 0).numpy() for image in rendered["image"]]
    return images, pose_scenes(scenes, IMAGE_SIZE), truth, covered


def test_the_true_geometry_samples_the_render_and_a_wrong_pose_does_not(clean_faces):
    """With SynthFaces' true shape, pose and camera the sampled texture matches the render's texture truth on the
    observed texels (what is left: pixel resolution and 8-bit colours); the same face turned 5 degrees and moved
    3 mm reads the wrong skin."""
    images, geometry, truth, covered = clean_faces
    for i, image in enumerate(images):
        sampled = sample_texture(image, true_prediction(geometry, i), SIZE)
        assert 0.35 < sampled.observed.float().mean() < covered.float().mean()
        assert not (sampled.observed & ~covered).any() and (sampled.texture[~sampled.observed] == 0).all()
        assert (sampled.weight[sampled.observed] > 0.25).all() and (sampled.weight[~sampled.observed] == 0).all()
        right = psnr(sampled.texture, truth[i], sampled.observed)
        wrong = sample_texture(image, true_prediction(geometry, i, camera.euler_to_rotation(5.0, 0.0, 0.0),
                                                      (0.3, 0.0, 0.0)), SIZE)
        assert right > 25.0 and right > psnr(wrong.texture, truth[i], wrong.observed) + 3.0


def test_a_turned_face_shows_one_cheek(clean_faces):
    """A face turned to its right (yaw < 0 shows the subject's left cheek: lm3d.face.camera) hides the other cheek."""
    images, geometry, _, _ = clean_faces
    yaw = camera.rotation_to_euler(geometry["rotation"])[0]
    i = int(yaw.abs().argmax())
    observed = sample_texture(images[i], true_prediction(geometry, i), SIZE).observed
    subject_left = observed[:, SIZE // 2 + 8:].float().mean()  # u > 0.5: the subject's left (canonical x > 0)
    subject_right = observed[:, :SIZE // 2 - 8].float().mean()
    assert abs(yaw[i]) > 15 and (subject_left > subject_right) == bool(yaw[i] < 0)


def symmetric_texture(size: int, asymmetric: bool = False) -> torch.Tensor:
    """A smooth texture that is a function of (|x|, y, z) of each texel's canonical surface point (of x: not
    symmetric)."""
    from lm3d.face import CanonicalFace

    face = CanonicalFace.load()
    index, triangle, barycentric = uv_map(size).texels()
    x, y, z = face.points(triangle, barycentric).unbind(1)
    side = x if asymmetric else x.abs()
    colour = torch.stack([0.5 + 0.4 * torch.sin(0.5 * side + 0.3 * y), 0.5 + 0.3 * torch.cos(0.4 * y - 0.2 * z),
                          0.5 + 0.4 * torch.tanh(0.3 * side - 0.1 * y)], 1)
    texture = torch.zeros(size * size, 3)
    texture[index] = colour
    return texture.view(size, size, 3), _x_of_texels(size)


def _x_of_texels(size: int) -> torch.Tensor:
    from lm3d.face import CanonicalFace

    index, triangle, barycentric = uv_map(size).texels()
    x = torch.full((size * size,), float("nan"))
    x[index] = CanonicalFace.load().points(triangle, barycentric)[:, 0]
    return x.view(size, size)


def test_mirror_fill_restores_a_symmetric_texture_and_not_an_asymmetric_one():
    size = 128
    texture, x = symmetric_texture(size)
    covered = uv_map(size).covered
    observed = covered & (x < 0)  # the subject's right half only
    completed = mirror_fill(texture * observed[..., None], observed)
    hidden = covered & ~observed
    assert completed.filled.float().sum() > 0.97 * hidden.float().sum()
    assert not (completed.filled & observed).any() and not (completed.unknown & (observed | completed.filled)).any()
    assert (completed.texture[completed.filled] - texture[completed.filled]).abs().max() < 0.03
    assert torch.equal(completed.texture[observed], texture[observed])  # the observed texels stay as they were
    assert (completed.texture[~covered] == 0).all() and (completed.texture[completed.unknown] == 0).all()
    lopsided, _ = symmetric_texture(size, asymmetric=True)
    wrong = mirror_fill(lopsided * observed[..., None], observed)
    assert (wrong.texture[wrong.filled] - lopsided[wrong.filled]).abs().mean() > 0.1


def test_mirror_fill_leaves_unknown_what_neither_side_saw():
    size = 64
    texture, x = symmetric_texture(size)
    covered = uv_map(size).covered
    band = (x.abs() < 2.0) & covered  # the middle of the face, on both sides: never seen
    observed = covered & ~band
    completed = mirror_fill(texture * observed[..., None], observed)
    assert completed.unknown.sum() > 0.8 * band.sum() and not completed.unknown[observed].any()


def test_fusing_two_identical_textures_changes_nothing_and_weighs_overlaps():
    size = 32
    generator = torch.Generator().manual_seed(0)
    texture = torch.rand(size, size, 3, generator=generator)
    observed = torch.rand(size, size, generator=generator) > 0.3
    weight = torch.rand(size, size, generator=generator) * observed
    one = SampledTexture(texture * observed[..., None], observed, weight)
    fused = fuse_textures([one, one])
    torch.testing.assert_close(fused.texture, one.texture)
    assert torch.equal(fused.observed, observed) and torch.equal(fused.weight, weight)
    # a red frame that saw the left half squarely, a blue one that saw the right half and the middle obliquely
    left, right = torch.zeros(size, size, dtype=torch.bool), torch.zeros(size, size, dtype=torch.bool)
    left[:, :20], right[:, 12:] = True, True
    red = SampledTexture(torch.tensor([1.0, 0, 0]).expand(size, size, 3) * left[..., None], left, 0.9 * left)
    blue = SampledTexture(torch.tensor([0, 0, 1.0]).expand(size, size, 3) * right[..., None], right, 0.3 * right)
    both = fuse_textures([red, blue])
    assert both.observed.all()
    torch.testing.assert_close(both.texture[0, 15], torch.tensor([0.75, 0.0, 0.25]))  # (0.9 red + 0.3 blue) / 1.2
    torch.testing.assert_close(both.texture[0, 25], torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(both.weight[0, 15], torch.tensor(0.9))


def test_bad_textures_are_refused_with_what_is_wrong():
    texture, observed = torch.zeros(32, 32, 3), torch.zeros(32, 32, dtype=torch.bool)
    with pytest.raises(ValueError, match="no textures to fuse"):
        fuse_textures([])
    with pytest.raises(ValueError, match="fuse textures of one size"):
        fuse_textures([(texture, observed, observed.float()), (torch.zeros(16, 16, 3), observed[:16, :16],
                                                               observed[:16, :16].float())])
    with pytest.raises(ValueError, match=r"a texture must be \(S, S, 3\)"):
        mirror_fill(torch.zeros(32, 32), observed)
    with pytest.raises(ValueError, match="observed mask must be"):
        mirror_fill(texture, observed.float())


def test_a_prediction_without_a_3d_face_or_for_another_image_is_refused(untrained, clean_faces):
    images, geometry, _, _ = clean_faces
    data = SynthFaces("synth300w", "test", 1, image_size=64).render([0])
    image, box = data["image"][0].permute(1, 2, 0).numpy(), data["bbox"][0]
    flat = Detector(untrained("baseline")).predict(image, box=box)
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        sample_texture(image, flat, SIZE)
    batch = Detector(untrained("crop-3d")).predict([image, image], box=torch.stack([box, box]))
    with pytest.raises(ValueError, match="one image's prediction"):
        sample_texture(image, batch, SIZE)
    prediction = true_prediction(geometry, 0)
    corner = np.zeros((8, 8, 3), np.uint8)  # not the image it was predicted on: the face lies beyond it
    with pytest.raises(ValueError, match="no part of the predicted face falls inside this 8x8 image"):
        sample_texture(corner, prediction, SIZE)
    with pytest.raises(ValueError, match="expected an HxWx3"):
        sample_texture(torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE).numpy(), prediction, SIZE)
    with pytest.raises(ValueError, match="texture size must be an integer"):
        sample_texture(images[0], prediction, 0)
