"""S, the spatial transformer: parameterisation, initialisation, penalties, and the gradient it learns from."""
import pytest
import torch

from lm3d.losses import landmark_loss
from lm3d.model import crop
from lm3d.model.detector import ContinuousLandmarkModel, ModelConfig, compose
from lm3d.model.spatial_transformer import (SpatialTransformer, corner_excess, non_similarity, parameters_to_matrix,
                                            scale, scale_outside, to_pixels)

SMALL = dict(crop_size=32, width=8, feature_dim=16, query_dim=16, hidden=16, layers=2, localiser_size=32,
             localiser_width=4)


@pytest.mark.parametrize("family", ["similarity", "affine"])
@pytest.mark.parametrize("localiser", ["attention", "regression"])
@pytest.mark.parametrize("height, width", [(64, 64), (48, 80)])
def test_the_first_crop_is_the_whole_frame(family, localiser, height, width):
    module = SpatialTransformer(family, 32, 4, 16, localiser=localiser)
    out = module(torch.rand(2, 3, height, width))
    half = max(height, width) / 2
    expected = torch.tensor([[half, 0.0, width / 2], [0.0, half, height / 2]])
    torch.testing.assert_close(out["transform"], expected.expand(2, 2, 3), atol=1e-4, rtol=0)
    corners = crop.to_image(torch.tensor([[[-1.0, -1.0], [1.0, 1.0]]]).expand(2, 2, 2), out["transform"])
    assert (corners[:, 0] <= 0).all() and (corners[:, 1, 0] >= width).all() and (corners[:, 1, 1] >= height).all()


def test_similarity_parameters_are_a_scaled_rotation():
    angle, s = torch.tensor(0.7), torch.tensor(0.4)
    params = torch.stack([s * angle.cos(), s * angle.sin(), torch.tensor(0.1), torch.tensor(-0.2)])[None]
    matrix, shift = parameters_to_matrix(params, "similarity")
    rotation = matrix[0] / s
    torch.testing.assert_close(rotation @ rotation.T, torch.eye(2), atol=1e-6, rtol=0)
    assert torch.det(rotation) > 0
    torch.testing.assert_close(scale(matrix), s[None])
    assert non_similarity(matrix).item() == pytest.approx(0, abs=1e-10)
    # pixels: the crop centre is the image centre moved by L * t, L = max(W, H) / 2
    transform = to_pixels(matrix, shift, 100, 200)
    torch.testing.assert_close(transform[0, :, 2], torch.tensor([100 + 100 * 0.1, 50 - 100 * 0.2]))


def test_non_similarity_measures_shear_and_squash():
    assert non_similarity(torch.tensor([[[1.0, 0.5], [0.0, 1.0]]])).item() > 0.05
    assert non_similarity(torch.tensor([[[1.0, 0.0], [0.0, 0.5]]])).item() > 0.05
    assert non_similarity(torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])).item() == pytest.approx(0, abs=1e-10)


def test_penalties_vanish_for_reasonable_crops_and_grow_outside():
    identity = torch.eye(2)[None]
    assert corner_excess(identity, torch.zeros(1, 2), 64, 64, 0.25).item() == 0
    assert corner_excess(0.5 * identity, torch.tensor([[0.6, 0.0]]), 64, 64, 0.25).item() == 0  # at the border
    far = corner_excess(0.5 * identity, torch.tensor([[1.5, 0.0]]), 64, 64, 0.25).item()
    farther = corner_excess(0.5 * identity, torch.tensor([[2.5, 0.0]]), 64, 64, 0.25).item()
    assert 0 < far < farther
    assert scale_outside(0.5 * identity, 0.2, 1.0).item() == 0
    assert scale_outside(0.05 * identity, 0.2, 1.0).item() == pytest.approx(torch.log(torch.tensor(4.0)).item() ** 2)
    assert scale_outside(3 * identity, 0.2, 1.0).item() > 0


def test_compose_places_a_crop_inside_a_crop():
    outer = crop.box_to_transform(torch.tensor([[10.0, 20.0, 60.0, 80.0]]))
    whole = torch.tensor([[[16.0, 0.0, 16.0], [0.0, 16.0, 16.0]]])  # the whole of a 32 px crop
    torch.testing.assert_close(compose(outer, whole, 32), outer)
    left_half = torch.tensor([[[8.0, 0.0, 8.0], [0.0, 8.0, 16.0]]])  # the left half (a quarter square) of it
    points = torch.tensor([[[0.3, -0.6]]])
    inside = crop.to_image(points, left_half)  # crop pixels
    expected = crop.to_image((inside + 0.0) * 2 / 32 - 1, outer)
    torch.testing.assert_close(crop.to_image(points, compose(outer, left_half, 32)), expected)


def test_s_learns_only_from_the_landmarks_in_image_pixels():
    model = ContinuousLandmarkModel(ModelConfig(crop="similarity", **SMALL))
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    out = model(images, None, torch.randn(5, 3))
    targets = torch.rand(2, 5, 2) * 64
    landmark_loss(out["landmarks2d"], targets, torch.ones(2, 5, dtype=torch.bool), torch.full((2,), 20.0), 10).backward()
    gradients = [p.grad for p in model.spatial_transformer.parameters() if p.grad is not None]
    assert gradients and any(g.abs().sum() > 0 for g in gradients)


def test_a_box_model_needs_boxes_and_an_s_model_does_not():
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    with pytest.raises(ValueError, match="face box"):
        ContinuousLandmarkModel(ModelConfig(**SMALL))(images, None, torch.randn(5, 3))
    out = ContinuousLandmarkModel(ModelConfig(crop="affine", second_pass=True, **SMALL))(images, None, torch.randn(5, 3))
    assert out["landmarks2d"].shape == (2, 5, 2) and out["face_logit"].shape == (2,)
    assert "first_transform" in out


@pytest.mark.parametrize("change, message", [
    (dict(crop="perspective"), "unknown crop"), (dict(localiser="magic"), "localiser"),
    (dict(localiser_size=40), "localiser_size"), (dict(second_pass=True), "second_pass"),
])
def test_bad_s_configs_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{**SMALL, **change}).validate()
