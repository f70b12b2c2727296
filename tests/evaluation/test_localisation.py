"""The lost-face test: a crop has lost its face when it sits off the face or has the wrong size."""
import pytest
import torch

from lm3d.evaluation.landmarks import lost_faces
from lm3d.model import crop

BOX = torch.tensor([[40.0, 50.0, 80.0, 100.0]])  # 40 x 50 px; the longer side is 50


def _crop(dx=0.0, dy=0.0, scale=1.0, angle=0.0):
    """The true face's box crop, moved by (dx, dy) px, scaled and turned (a similarity, as S makes)."""
    transform = crop.box_to_transform(BOX, 0.25).clone()
    c, s = torch.cos(torch.tensor(angle)), torch.sin(torch.tensor(angle))
    transform[:, :, :2] = scale * transform[:, :, :2] @ torch.tensor([[c, -s], [s, c]])
    transform[:, :, 2] += torch.tensor([dx, dy])
    return transform


@pytest.mark.parametrize("moved, lost", [
    ({}, False), ({"dx": 24.0}, False), ({"dx": 26.0}, True), ({"dx": -18.0, "dy": 18.0}, True),
    ({"scale": 1.9}, False), ({"scale": 2.1}, True), ({"scale": 0.55}, False), ({"scale": 0.45}, True),
    ({"angle": 0.7}, False), ({"angle": 0.7, "scale": 2.2}, True),
])
def test_a_crop_is_lost_when_off_centre_by_half_the_face_or_off_in_size_by_two(moved, lost):
    assert lost_faces(_crop(**moved), BOX, margin=0.25).tolist() == [lost]


def test_an_affine_crop_is_judged_by_its_mean_size():
    transform = _crop()
    transform[:, 0, 0] *= 3.0  # three times wider, as tall: sqrt(3) times the size on average
    assert lost_faces(transform, BOX, 0.25).tolist() == [False]
    transform[:, 1, 1] *= 2.0  # and twice as tall: sqrt(6) > 2
    assert lost_faces(transform, BOX, 0.25).tolist() == [True]
