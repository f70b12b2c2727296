"""Metrics (NME, FR, AUC) and crop transforms: known values, round trips and errors."""
import pytest
import torch

from lm3d.evaluation import metrics
from lm3d.model import crop


def test_nme_of_a_known_offset():
    target = torch.zeros(2, 5, 2)
    predicted = target + torch.tensor([3.0, 4.0])  # 5 px off everywhere
    nme = metrics.nme_per_face(predicted, target, torch.tensor([50.0, 100.0]))
    torch.testing.assert_close(nme, torch.tensor([10.0, 5.0]))


def test_mask_leaves_points_out():
    target = torch.zeros(1, 3, 2)
    predicted = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [100.0, 0.0]]])
    nme = metrics.nme_per_face(predicted, target, torch.tensor([10.0]), mask=torch.tensor([[True, True, False]]))
    torch.testing.assert_close(nme, torch.tensor([10.0]))


def test_failure_rate_and_auc():
    assert metrics.auc(torch.zeros(10)) == pytest.approx(1.0, abs=1e-3)
    assert metrics.auc(torch.full((10,), 20.0)) == 0.0
    assert metrics.auc(torch.full((10,), 5.0)) == pytest.approx(0.5, abs=2e-3)  # fraction 1 from 5 % to 10 %
    assert metrics.failure_rate(torch.tensor([1.0, 11.0, 12.0, 3.0])) == 50.0
    summary = metrics.summarize(torch.tensor([2.0, 4.0]))
    assert summary["nme"] == 3.0 and summary["faces"] == 2 and summary["fr@10"] == 0.0


@pytest.mark.parametrize("predicted, iod, message", [
    (torch.zeros(2, 5, 3), torch.ones(2), "shape"),
    (torch.zeros(2, 5, 2), torch.tensor([1.0, 0.0]), "positive inter-ocular"),
    (torch.zeros(2, 5, 2), torch.ones(3), "one positive"),
])
def test_metric_errors(predicted, iod, message):
    with pytest.raises(ValueError, match=message):
        metrics.nme_per_face(predicted, torch.zeros(2, 5, 2) if predicted.shape[-1] == 2 else torch.zeros(2, 5, 2), iod)


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
