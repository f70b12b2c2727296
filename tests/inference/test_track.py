"""Detector.track: video frames in order, each crop following the previous frame's face, optionally smoothed."""
import numpy as np
import pytest
import torch

from lm3d.inference import Detector, box_from_landmarks, one_euro
from lm3d.synth import SynthFaces


@pytest.fixture(scope="module")
def clip():
    face = SynthFaces("synth300w", "test", 1, image_size=96).render([0])
    image = face["image"][0].permute(1, 2, 0).numpy()
    return [np.roll(image, 2 * t, axis=1) for t in range(5)], face["bbox"][0]


@pytest.fixture(scope="module")
def detectors(untrained):
    return {variant: Detector(untrained(variant), min_face_score=0.0) for variant in ("baseline", "s-3d")}


def test_without_follow_each_frame_is_answered_alone(detectors, clip):
    frames, box = clip
    s = detectors["s-3d"].track(frames, follow=False)
    alone = [detectors["s-3d"].predict(f) for f in frames]
    torch.testing.assert_close(s.landmarks2d, torch.stack([a.landmarks2d for a in alone]))
    torch.testing.assert_close(s.euler["yaw"], torch.stack([a.euler["yaw"] for a in alone]))
    assert s.landmarks2d.shape == (5, 68, 2) and s.landmarks3d.shape == (5, 68, 3) and s.visible.shape == (5, 68)
    fixed = detectors["baseline"].track(frames, box=box, follow=False)
    torch.testing.assert_close(fixed.landmarks2d[3], detectors["baseline"].predict(frames[3], box=box).landmarks2d)


def test_following_starts_each_crop_from_the_previous_face(detectors, clip):
    frames, box = clip
    detector = detectors["s-3d"]
    track = detector.track(frames, layout="five")
    first = detector.predict(frames[0], layout="five")
    torch.testing.assert_close(track.landmarks2d[0], first.landmarks2d)  # the first frame: S alone
    second = detector.predict(frames[1], layout="five", start_crop=track.transform[0])
    torch.testing.assert_close(track.landmarks2d[1], second.landmarks2d)
    assert track.names == first.names
    boxed = detectors["baseline"].track(frames, box=box)
    torch.testing.assert_close(boxed.box[0], box)
    torch.testing.assert_close(boxed.box[2], box_from_landmarks(boxed.landmarks2d[1]))  # ibug68: the box's own points
    with pytest.raises(ValueError, match="start_crop is for a model with S"):
        detectors["baseline"].predict(frames[0], box=box, start_crop=track.transform[0])
    with pytest.raises(ValueError, match="no frames"):
        detector.track([])


def test_smoothing_is_the_one_euro_filter_of_the_raw_track(detectors, clip):
    frames, _ = clip
    detector = detectors["s-3d"]
    raw, steady = detector.track(frames), detector.track(frames, smooth=True, fps=25.0, min_cutoff=1.0, beta=0.5)
    torch.testing.assert_close(steady.landmarks2d[0], raw.landmarks2d[0])
    assert not torch.allclose(steady.landmarks2d[1:], raw.landmarks2d[1:])
    torch.testing.assert_close(steady.landmarks3d, raw.landmarks3d)  # only the 2D landmarks are smoothed
    corners = raw.landmarks2d[:, [36, 45]]
    expected = one_euro(raw.landmarks2d.numpy(), 25.0, (corners[:, 0] - corners[:, 1]).norm(dim=-1).numpy(), 1.0, 0.5)
    torch.testing.assert_close(steady.landmarks2d, torch.as_tensor(expected, dtype=torch.float32))
