"""Stability metrics against known answers: constant, noisy and lagging predictors, and known crops."""
import math

import pytest
import torch

from lm3d.evaluation import stability
from lm3d.model import crop


@pytest.fixture
def moving():
    """4 clips, 50 frames, 10 points moving on random smooth tracks; IOD 40 px."""
    generator = torch.Generator().manual_seed(0)
    start = torch.rand(4, 1, 10, 2, generator=generator) * 100
    velocity = torch.randn(4, 1, 1, 2, generator=generator)
    t = torch.arange(50.0)[None, :, None, None]
    return start + velocity * t + 3 * torch.sin(0.2 * t), torch.full((4, 50), 40.0)


def test_a_constant_predictor_has_no_static_jitter_and_pays_for_the_motion(moving):
    truth, iod = moving
    constant = truth[:, :1].expand_as(truth)
    assert stability.static_jitter(constant, iod) == pytest.approx(0, abs=1e-4)
    expected = 100 * ((truth[:, 1:] - truth[:, :-1]).norm(dim=-1) / 40).mean().item()
    assert stability.motion_jitter(constant, truth, iod) == pytest.approx(expected, rel=1e-5)


def test_iid_noise_of_known_sigma(moving):
    truth, iod = moving
    sigma = 2.0
    generator = torch.Generator().manual_seed(1)
    clips = truth[:, :1].expand(4, 2000, 10, 2)  # static clips: the truth does not move
    noisy = clips + sigma * torch.randn(clips.shape, generator=generator)
    iod = torch.full((4, 2000), 40.0)
    rayleigh_mean = sigma * math.sqrt(math.pi / 2)  # E|n| for n ~ N(0, sigma^2 I_2)
    assert stability.static_jitter(noisy, iod) == pytest.approx(100 * rayleigh_mean / 40, rel=0.02)
    # the error changes by n_t - n_{t-1} ~ N(0, 2 sigma^2 I_2) between frames
    assert stability.motion_jitter(noisy, clips, iod) == pytest.approx(100 * math.sqrt(2) * rayleigh_mean / 40, rel=0.02)
    assert stability.video_nme(noisy, clips, iod) == pytest.approx(100 * rayleigh_mean / 40, rel=0.02)


def test_a_lagging_predictor_cannot_win_both_motion_jitter_and_video_nme():
    velocity = torch.tensor([1.5, -0.5])
    truth = (torch.arange(30.0)[:, None, None] * velocity).expand(30, 5, 2)[None]  # constant speed
    lagging = torch.cat([truth[:, :1], truth[:, :-1]], 1)  # answers the previous frame
    iod = torch.full((1, 30), 50.0)
    late = stability.motion_jitter(lagging[:, 1:], truth[:, 1:], iod[:, 1:])
    assert late == pytest.approx(0, abs=1e-5)  # its error is constant: no wobble...
    assert stability.video_nme(lagging[:, 1:], truth[:, 1:], iod[:, 1:]) == pytest.approx(
        100 * velocity.norm().item() / 50, rel=1e-5)  # ...but it is always one step behind


def test_roi_jitter_of_known_crops():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 60.0]]).repeat(20, 1)  # a still face, 40 px
    steady = crop.box_to_transform(boxes)
    assert stability.roi_jitter(steady, boxes) == pytest.approx(0, abs=1e-5)
    # the crop alternates 1 px left and right: its centre moves 2 px a frame; crop half-size 25 px -> size 50 px
    shaky = steady.clone()
    shaky[:, 0, 2] += torch.tensor([1.0, -1.0]).repeat(10)
    crop_size = 2 * 25.0
    assert stability.roi_jitter(shaky, boxes) == pytest.approx(100 * 2 / crop_size, rel=1e-5)
    # a crop that follows a moving, growing face at a fixed offset and zoom is steady
    grow = torch.linspace(1, 2, 20)[:, None]
    moving_boxes = torch.cat([boxes[:, :2] * grow + 5 * grow, boxes[:, 2:] * grow + 5 * grow], 1)
    assert stability.roi_jitter(crop.box_to_transform(moving_boxes), moving_boxes) == pytest.approx(0, abs=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda: stability.static_jitter(torch.zeros(5, 2), torch.ones(5)), "(C,T,K,2)"),
    (lambda: stability.static_jitter(torch.zeros(5, 3, 2), torch.zeros(5)), "positive"),
    (lambda: stability.motion_jitter(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.ones(1)), "2 frames"),
    (lambda: stability.roi_jitter(torch.zeros(5, 2, 2), torch.zeros(5, 4)), "transforms"),
])
def test_bad_shapes_are_named(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
