"""S, the spatial transformer: parameterisation, initialisation, penalties, and the gradient it learns from."""
from dataclasses import replace

import pytest
import torch

from lm3d.model import crop
from lm3d.model.landmark_model import ContinuousLandmarkModel, ModelConfig, compose
from lm3d.model.spatial_transformer import (
    SpatialTransformer,
    corner_excess,
    from_pixels,
    non_similarity,
    parameters_to_matrix,
    scale,
    scale_outside,
    to_pixels,
)
from lm3d.training.objective import landmark_loss

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
    back = from_pixels(transform, 100, 200)  # and back: the frame the penalties judge
    torch.testing.assert_close(back[0], matrix), torch.testing.assert_close(back[1], shift)


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


def _s_gradient(model: ContinuousLandmarkModel, key: str) -> float:
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = model(images, None, torch.randn(5, 3, generator=torch.Generator().manual_seed(1)))
    targets = torch.rand(2, 5, 2, generator=torch.Generator().manual_seed(2)) * 64
    landmark_loss(out[key], targets, torch.ones(2, 5, dtype=torch.bool), torch.full((2,), 20.0), 10).backward()
    return sum(p.grad.abs().sum().item() for p in model.spatial_transformer.parameters() if p.grad is not None)


@pytest.mark.parametrize("learns_from", ["all", "template"])
def test_s_learns_only_from_the_landmarks_in_image_pixels(learns_from):
    """S moves with its template's landmark loss; with s_learns_from="all" also with P's, else not at all."""
    def model():
        return ContinuousLandmarkModel(ModelConfig(crop="similarity", s_learns_from=learns_from, **SMALL))
    assert _s_gradient(model(), "template2d") > 0
    from_predictor = _s_gradient(model(), "landmarks2d")
    assert from_predictor > 0 if learns_from == "all" else from_predictor == 0


def test_a_box_model_needs_boxes_and_an_s_model_does_not():
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    with pytest.raises(ValueError, match="face box"):
        ContinuousLandmarkModel(ModelConfig(**SMALL))(images, None, torch.randn(5, 3))
    out = ContinuousLandmarkModel(ModelConfig(crop="affine", second_pass=True, **SMALL))(images, None, torch.randn(5, 3))
    assert out["landmarks2d"].shape == (2, 5, 2) and out["face_logit"].shape == (2,)
    assert "first_transform" in out
    # the penalties see the composed crop of the image, not the inner crop inside the first one
    torch.testing.assert_close(to_pixels(out["matrix"], out["shift"], 64, 64), out["transform"])


def test_a_recrop_reads_the_face_again_where_the_template_fits_at_inference_only():
    torch.manual_seed(0)
    model = ContinuousLandmarkModel(ModelConfig(crop="similarity", recrop=1, **SMALL))
    assert model.recrops == 1
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    queries = torch.randn(5, 3)
    with torch.no_grad():
        trained = model(images, None, queries)
        assert torch.equal(trained["transform"], trained["s_transform"])  # training: S's crop, as without a re-crop
        model.eval()
        out = model(images, None, queries)
        first = model.read_face(crop.normalise_images(images), out["s_transform"], model.anchors)["landmarks2d"]
        fitted = crop.fit_similarity(model.template(model.anchors).expand(2, -1, -1), first)
        torch.testing.assert_close(out["transform"], fitted)
        assert not torch.allclose(out["transform"], out["s_transform"])
        # the re-crop fits fixed anchor points: an answer does not depend on the other queries asked
        torch.testing.assert_close(model(images, None, queries[:2])["landmarks2d"], out["landmarks2d"][:, :2])


def test_a_box_model_ignores_a_recrop_count_at_inference():
    torch.manual_seed(0)
    config = ModelConfig(**{k: v for k, v in SMALL.items() if not k.startswith("localiser")})
    plain, told = ContinuousLandmarkModel(config).eval(), ContinuousLandmarkModel(replace(config, recrop=3)).eval()
    told.load_state_dict(plain.state_dict())
    assert told.recrops == 0  # what an evaluation report records for it
    images, boxes = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8), torch.tensor([[8.0, 8.0, 56.0, 56.0]] * 2)
    queries = torch.randn(5, 3)
    with torch.no_grad():  # a preset may give every variant recrop=3: the box crop is the crop
        torch.testing.assert_close(told(images, boxes, queries)["landmarks2d"], plain(images, boxes, queries)["landmarks2d"])


def test_given_crops_replace_the_detector_crop_of_the_faces_picked():
    model = ContinuousLandmarkModel(ModelConfig(crop="similarity", **SMALL))
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    given = crop.box_to_transform(torch.tensor([[10.0, 10.0, 40.0, 40.0]] * 2), 0.25)
    out = model(images, None, torch.randn(5, 3), given_crops=(torch.tensor([True, False]), given))
    torch.testing.assert_close(out["transform"][0], given[0])
    torch.testing.assert_close(out["transform"][1], out["s_transform"][1])


@pytest.mark.parametrize("change, message", [
    (dict(crop="perspective"), "unknown crop"), (dict(localiser="magic"), "localiser"),
    (dict(localiser_size=40), "localiser_size"), (dict(localiser_size=96), "localiser_size"),
    (dict(second_pass=True), "second_pass"), (dict(localiser_precision="float8"), "localiser_precision"),
    (dict(crop="similarity", recrop=9), "recrop"),
])
def test_bad_s_configs_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{**SMALL, **change}).validate()


@pytest.mark.parametrize("localiser", ["attention", "regression"])
def test_a_larger_localiser_input_goes_through_stems_to_the_same_map(localiser):
    small, large = (SpatialTransformer("similarity", size, 8, 16, localiser=localiser) for size in (64, 128))
    convolutions = [m for m in large.localiser.convolutions if isinstance(m, torch.nn.Conv2d)]
    assert len(convolutions) == len([m for m in small.localiser.convolutions if isinstance(m, torch.nn.Conv2d)]) + 1
    assert convolutions[0].stride == (2, 2) and convolutions[0].out_channels == 4  # a cheap stem, half the width
    images = torch.rand(2, 3, 128, 128)
    maps = [m.localiser.convolutions(torch.rand(2, 3, m.input_size, m.input_size)) for m in (small, large)]
    assert maps[0].shape == maps[1].shape  # the costly layers work at the 64 px copy's resolution either way
    torch.testing.assert_close(large(images)["transform"], small(images)["transform"])  # both start at the whole frame


@pytest.mark.parametrize("localiser", ["attention", "regression"])
def test_a_bfloat16_localiser_outputs_float32_close_to_float32(localiser):
    torch.manual_seed(0)
    full = SpatialTransformer("similarity", 64, 8, 16, localiser=localiser)
    for parameter in full.parameters():  # away from the zero-initialised start, so the outputs depend on the images
        torch.nn.init.normal_(parameter, std=0.1)
    half = SpatialTransformer("similarity", 64, 8, 16, localiser=localiser, precision="bfloat16")
    half.load_state_dict(full.state_dict())
    images = torch.rand(3, 3, 96, 96)
    a, b = full(images), half(images)
    assert b["params"].dtype == b["transform"].dtype == torch.float32
    torch.testing.assert_close(b["params"], a["params"], atol=0.05, rtol=0.05)
    assert not torch.equal(b["params"], a["params"])  # it did run in bfloat16


@pytest.mark.parametrize("pooling", ["mean", "keypoints", "grid"])
def test_every_pooling_of_f_gives_one_feature_vector_per_image(pooling):
    from lm3d.model.features import FeatureExtractor

    extractor = FeatureExtractor(8, 16, pooling=pooling)
    assert extractor(torch.randn(2, 3, 64, 64)).shape == (2, 16)
    with pytest.raises(ValueError, match="pooling"):
        FeatureExtractor(8, 16, pooling="max")


def test_spatial_soft_argmax_finds_a_single_peak():
    from lm3d.model.features import spatial_soft_argmax

    maps = torch.zeros(1, 2, 4, 8)
    maps[0, 0, 1, 6] = 50.0  # row 1 of 4, column 6 of 8
    maps[0, 1, 3, 0] = 50.0
    x, y = spatial_soft_argmax(maps).reshape(2, 2)  # (x of both channels), (y of both channels)
    torch.testing.assert_close(x, torch.tensor([(6.5 / 8) * 2 - 1, (0.5 / 8) * 2 - 1]))
    torch.testing.assert_close(y, torch.tensor([(1.5 / 4) * 2 - 1, (3.5 / 4) * 2 - 1]))


def test_grid_pooling_keeps_where_the_face_is():
    """Mean pooling cannot tell an image from its mirror; the 4x4 grid can (with the same weights)."""
    from lm3d.model.features import FeatureExtractor

    torch.manual_seed(0)
    image = torch.zeros(1, 3, 64, 64)
    image[..., 8:24, 8:24] = 1.0  # a bright square in the top-left corner
    mirrored = image.flip(-1).flip(-2)
    mean, grid = FeatureExtractor(8, 16, pooling="mean"), FeatureExtractor(8, 16, pooling="grid")
    grid.stem, grid.stages = mean.stem, mean.stages
    def gap(f):
        return (f(image) - f(mirrored)).norm() / f(image).norm()
    assert gap(grid) > 5 * gap(mean)


def test_peak_transforms_give_the_best_local_maxima_as_crops_best_first():
    from lm3d.model.spatial_transformer import cell_centres, peak_transforms
    score_map = torch.zeros(1, 8, 8)
    score_map[0, 2, 5], score_map[0, 6, 1], score_map[0, 2, 6] = 3.0, 2.0, 2.5  # (2,6) is beside (2,5): no peak
    params = torch.tensor([[0.25, 0.0, 0.3, -0.1]])  # a similarity of half-size 0.25 L (its centre is replaced)
    transforms, scores = peak_transforms(params, score_map, "similarity", 64, 64, 2)
    assert transforms.shape == (1, 2, 2, 3) and scores.tolist() == [[3.0, 2.0]]
    centres = cell_centres(8, 8)
    expected = [32 + 32 * centres[2 * 8 + 5], 32 + 32 * centres[6 * 8 + 1]]  # image centre + L * cell centre
    torch.testing.assert_close(transforms[0, :, :, 2], torch.stack(expected))
    torch.testing.assert_close(transforms[0, :, :, :2], torch.tensor([[8.0, 0.0], [0.0, 8.0]]).expand(2, 2, 2))


def test_peak_ranking_raises_the_peak_whose_crop_fits_the_landmarks():
    from lm3d.model.spatial_transformer import peak_transforms
    from lm3d.training.objective import PEAK_COUNT, peak_ranking_loss
    score_map = torch.zeros(1, 8, 8)
    score_map[0, 1, 1], score_map[0, 6, 6] = 3.0, 2.0  # a distractor outscores the face, which lies at cell (6, 6)
    score_map.requires_grad_(True)
    params = torch.tensor([[0.25, 0.0, 0.0, 0.0]])
    template = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.0, 0.5]]])  # normalised crop points
    transforms, _ = peak_transforms(params, score_map.detach(), "similarity", 64, 64, PEAK_COUNT)
    face_crop = transforms[0, 1]  # the second peak's crop
    targets = crop.to_image(template, face_crop[None]) + 0.5
    mask, iod = torch.ones(1, 3, dtype=torch.bool), torch.tensor([10.0])
    outputs = {"params": params, "score_map": score_map}
    loss = peak_ranking_loss(outputs, template, targets, mask, iod, "similarity", (64, 64))
    loss.backward()
    assert loss.item() > 1.0  # the wrong peak scores highest
    assert score_map.grad[0, 6, 6] < 0 < score_map.grad[0, 1, 1]  # descent raises the face's peak, lowers the other
    negatives = peak_ranking_loss(outputs, template, targets, torch.zeros_like(mask), iod, "similarity", (64, 64))
    assert negatives.item() == 0.0  # a frame without landmarks ranks nothing


def test_an_image_of_the_localisers_size_is_read_as_it_is():
    # S skips its resize when the image already has the localiser's size: the antialiased resize would be the identity
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    resized = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(resized, images)
    s = SpatialTransformer("similarity", input_size=64).eval()
    seen = []
    s.localiser.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    s(images)
    assert seen[0] is images
