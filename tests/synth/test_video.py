"""Video clips: smooth moving clips and static clips where only sensor noise changes."""
import pytest
import torch

from lm3d.synth.video import clip_scenes, make_clip, render_clip


def test_moving_clip_is_smooth():
    clip = make_clip("synth300w", length=24, kind="moving", seed=0, image_size=64)
    truth = clip["landmarks2d"] - clip["annotation_noise"]
    step = (truth[1:] - truth[:-1]).norm(dim=-1).mean(-1) / clip["iod"][1:]
    assert clip["image"].shape == (24, 3, 64, 64)
    assert step.max() < 0.25 and step.mean() > 1e-3  # it moves, but never jumps
    accel = (truth[2:] - 2 * truth[1:-1] + truth[:-2]).norm(dim=-1).mean(-1) / clip["iod"][2:]
    assert accel.max() < 0.1


def test_static_clip_changes_only_the_noise():
    clip = make_clip("synth300w", length=5, kind="static", seed=1, image_size=64)
    truth = clip["landmarks2d"] - clip["annotation_noise"]
    torch.testing.assert_close(truth, truth[:1].expand_as(truth))
    difference = (clip["image"][1:].float() - clip["image"][:1].float()).abs()
    # two frames differ by two draws of Gaussian noise of sd sigma: mean |difference| = 1.13 sigma
    sigma = 255 * clip_scenes("synth300w", length=5, kind="static", seed=1, image_size=64)[0]["noise"]
    assert 0 < difference.mean() < 2 * sigma


def test_clip_arguments_are_checked():
    with pytest.raises(ValueError, match="clip kind"):
        make_clip("synth300w", length=3, kind="wobbly")
    with pytest.raises(ValueError, match="length"):
        make_clip("synth300w", length=0)


def test_some_frames_of_a_clip_render_as_in_the_whole_clip():
    whole = make_clip("synth300w", length=6, kind="moving", seed=0, image_size=48)
    chosen = clip_scenes("synth300w", 6, "moving", 0, 0, 48)[::3]
    some = render_clip("synth300w", chosen, 48)
    assert torch.equal(some["image"], whole["image"][::3]) and torch.equal(some["rotation"], whole["rotation"][::3])
