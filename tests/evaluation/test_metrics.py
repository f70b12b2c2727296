"""Metrics (NME, FR, AUC): known values and errors."""
import pytest
import torch

from lm3d.evaluation import metrics


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
