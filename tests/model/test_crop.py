"""Crop transforms and the simulated detector's boxes: round trips, sampled pixels, jitter and errors."""
import pytest
import torch

from lm3d.model import crop


def test_crop_round_trip_and_geometry():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 30.0, 30.0]])
    transform = crop.box_to_transform(boxes, margin=0.0)
    points = torch.rand(2, 7, 2) * 2 - 1
    torch.testing.assert_close(crop.to_crop(crop.to_image(points, transform), transform), points, atol=1e-5, rtol=0)
    centre = crop.to_image(torch.zeros(2, 1, 2), transform)[:, 0]
    torch.testing.assert_close(centre, torch.tensor([[30.0, 50.0], [15.0, 15.0]]))
    corner = crop.to_image(torch.tensor([[[-1.0, -1.0]], [[1.0, 1.0]]]), transform)[:, 0]
    torch.testing.assert_close(corner, torch.tensor([[0.0, 20.0], [30.0, 30.0]]))  # square side = max(w, h)


def test_crop_samples_the_right_pixels():
    image = torch.zeros(1, 1, 64, 64)
    image[0, 0, 30, 40] = 1.0  # pixel centre (40.5, 30.5)
    transform = crop.box_to_transform(torch.tensor([[36.0, 26.0, 44.0, 34.0]]), margin=0.0)  # 8 px, on pixel edges
    out = crop.crop(image, transform, 8)  # one crop pixel per image pixel
    assert out[0, 0].argmax().item() == 4 * 8 + 4 and out.max().item() == pytest.approx(1.0)


def test_jittered_boxes_are_near_the_truth():
    boxes = torch.tensor([[100.0, 100.0, 200.0, 200.0]]).repeat(2000, 1)
    jittered = crop.jitter_boxes(boxes, torch.Generator().manual_seed(0))
    centre_shift = ((jittered[:, :2] + jittered[:, 2:]) / 2 - 150).std().item()
    assert centre_shift == pytest.approx(crop.DETECTOR_CENTRE_SD * 100, rel=0.1)


def test_bad_boxes():
    with pytest.raises(ValueError, match="x1 > x0"):
        crop.box_to_transform(torch.tensor([[10.0, 10.0, 5.0, 20.0]]))
    with pytest.raises(ValueError, match="B,4"):
        crop.box_to_transform(torch.zeros(4))


def _similarity(scale: float, angle: float, shift: tuple[float, float]) -> torch.Tensor:
    c, s = scale * torch.cos(torch.tensor(angle)), scale * torch.sin(torch.tensor(angle))
    return torch.tensor([[[c, -s, shift[0]], [s, c, shift[1]]]])


def test_fit_similarity_recovers_a_known_crop_and_ignores_unweighted_points():
    transform = _similarity(40.0, 0.3, (120.0, 90.0))
    source = torch.rand(1, 20, 2) * 2 - 1
    target = crop.to_image(source, transform)
    target[0, :3] += 500.0  # outliers, weighted out
    weights = torch.ones(1, 20)
    weights[0, :3] = 0
    torch.testing.assert_close(crop.fit_similarity(source, target, weights), transform, atol=1e-3, rtol=0)
    assert not torch.allclose(crop.fit_similarity(source, target), transform, atol=1.0)


def test_jittered_transforms_stay_similarities_near_the_crop():
    transform = _similarity(50.0, 0.2, (100.0, 100.0)).repeat(4000, 1, 1)
    jittered = crop.jitter_transforms(transform, torch.Generator().manual_seed(0), centre_sd=0.1, log_scale_sd=0.05,
                                      angle_sd=0.1)
    matrix = jittered[:, :, :2]
    torch.testing.assert_close(matrix[:, 0, 0], matrix[:, 1, 1]), torch.testing.assert_close(matrix[:, 0, 1], -matrix[:, 1, 0])
    assert (jittered[:, :, 2] - 100.0).std().item() == pytest.approx(0.1 * 50.0, rel=0.1)
    assert (matrix.det().sqrt() / 50.0).log().std().item() == pytest.approx(0.05, rel=0.1)
    angle = torch.atan2(matrix[:, 1, 0], matrix[:, 0, 0]) - 0.2
    assert angle.std().item() == pytest.approx(0.1, rel=0.1)


def test_normalise_images_maps_to_minus_one_one_and_leaves_its_input_alone():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(2, 3, 16, 16).contiguous()
    out = crop.normalise_images(pixels)
    assert out.dtype == torch.float32 and out.min() == -1 and out.max() == 1
    assert torch.equal(out, pixels.float() / 255.0 * 2 - 1)  # in place, yet the same values bit for bit
    unit = pixels.float() / 255.0
    before = unit.clone()
    assert torch.equal(crop.normalise_images(unit), out) and torch.equal(unit, before)  # float input: not changed
