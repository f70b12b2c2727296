"""The landmark losses (L1 and Wing in units of the inter-ocular distance) and the 3D head's shear prior."""
import math

import pytest
import torch

from lm3d.training.objective import WING_CURVATURE, WING_WIDTH, landmark_loss, shape_shear


def _loss(error_over_iod: float, kind: str) -> torch.Tensor:
    predicted = torch.tensor([[[error_over_iod * 50.0, 0.0]]], requires_grad=True)  # an IOD of 50 px, error along x
    loss = landmark_loss(predicted, torch.zeros(1, 1, 2), torch.ones(1, 1), torch.tensor([50.0]), 1.0, kind)
    loss.backward()
    return loss.detach(), predicted.grad[0, 0, 0] * 50.0  # the slope in IOD units


def test_l1_is_the_error_over_the_iod():
    loss, slope = _loss(0.07, "l1")
    assert loss.item() == pytest.approx(0.07) and slope.item() == pytest.approx(1.0)


def test_wing_is_logarithmic_below_its_width_and_linear_above_continuously():
    small, small_slope = _loss(1e-6, "wing")
    assert small.item() == pytest.approx(0.0, abs=1e-4)
    assert small_slope.item() == pytest.approx(WING_WIDTH / WING_CURVATURE, rel=1e-3)  # 5 times L1's pull
    inside, outside = _loss(WING_WIDTH - 1e-5, "wing")[0], _loss(WING_WIDTH + 1e-5, "wing")[0]
    assert inside.item() == pytest.approx(outside.item(), abs=1e-4)
    assert inside.item() == pytest.approx(WING_WIDTH * math.log1p(WING_WIDTH / WING_CURVATURE), rel=1e-3)
    big, big_slope = _loss(0.5, "wing")
    assert big_slope.item() == pytest.approx(1.0) and big.item() < _loss(0.5, "l1")[0].item() + WING_WIDTH


def test_an_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown landmark loss 'l2'"):
        _loss(0.1, "l2")


def test_shape_shear_sees_a_pitch_shaped_shear_but_not_scale_shift_or_unmasked_points():
    torch.manual_seed(0)
    template = torch.randn(1, 30, 3) * 5
    sheared = template.clone()
    sheared[..., 1] -= 0.1 * template[..., 2]  # dy = -0.1 z: projects like a pitch of 0.1 rad
    everything = torch.ones(1, 30, dtype=torch.bool)
    assert shape_shear(sheared, template, everything).item() == pytest.approx(0.01, rel=1e-3)
    stretched = template * torch.tensor([1.1, 0.9, 1.2]) + torch.tensor([1.0, -2.0, 3.0])  # identity-like: free
    assert shape_shear(stretched, template, everything).item() == pytest.approx(0.0, abs=1e-5)
    moved = sheared.clone()
    moved[:, 20:] += 5.0  # points the mask leaves out do not count
    mask = torch.arange(30)[None] < 20
    assert shape_shear(moved, template, mask).item() == pytest.approx(0.01, rel=1e-3)
