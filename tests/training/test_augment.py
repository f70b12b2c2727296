import pytest
import torch

from lm3d.training import augment, preset
from lm3d.training.augment import photometric


def _batch(count=16, size=64):
    generator = torch.Generator().manual_seed(3)
    return (torch.rand(count, 3, size, size, generator=generator) * 255).to(torch.uint8)


def test_photometric_is_drawn_from_the_generator_alone():
    images = _batch()
    first = photometric(images, torch.Generator().manual_seed(1))
    again = photometric(images, torch.Generator().manual_seed(1))
    other = photometric(images, torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.dtype == torch.uint8 and first.shape == images.shape
    assert torch.equal(images, _batch())


def test_photometric_changes_about_the_augmented_share_and_keeps_the_rest(monkeypatch):
    images = _batch(count=200, size=32)
    out = photometric(images, torch.Generator().manual_seed(0))
    changed = (out != images).flatten(1).any(1).float().mean().item()
    assert abs(changed - augment.AUGMENTED_SHARE) < 0.12
    monkeypatch.setattr(augment, "AUGMENTED_SHARE", 0.0)
    assert torch.equal(photometric(images, torch.Generator().manual_seed(0)), images)


def test_each_part_runs_and_jpeg_keeps_the_picture(monkeypatch):
    images = _batch(count=4, size=48)
    monkeypatch.setattr(augment, "AUGMENTED_SHARE", 1.0)
    monkeypatch.setattr(augment, "PROBABILITIES", (1.0,) * 6)
    out = photometric(images, torch.Generator().manual_seed(0))
    assert (out != images).flatten(1).any(1).all()
    smooth = torch.linspace(0, 255, 48).round().to(torch.uint8).expand(3, 48, 48).clone()
    assert (augment._jpeg(smooth, 90).int() - smooth.int()).abs().float().mean() < 3


def test_photometric_names_a_wrong_batch():
    with pytest.raises(ValueError, match="uint8"):
        photometric(torch.zeros(2, 3, 8, 8), torch.Generator())
    with pytest.raises(ValueError, match=r"\(B,3,H,W\)"):
        photometric(torch.zeros(3, 8, 8, dtype=torch.uint8), torch.Generator())


def test_the_pretrained_preset_augments_and_the_ladder_does_not():
    assert preset("pretrained", "full").augment and not preset("standard", "full").augment
    with pytest.raises(ValueError, match="augment"):
        preset("fast", augment="yes")
