import copy

import numpy as np
import pytest
import torch

from lm3d.raster.uv_space import uv_map
from lm3d.synth import SynthFaces
from lm3d.synth.uv_truth import render_uv


@pytest.fixture(scope="module")
def scenes():
    return SynthFaces("synth300w", "test", 3, image_size=96).scenes(range(3))


def test_the_texture_truth_is_the_lit_face_without_what_happens_in_the_image_plane(scenes):
    truth, covered = render_uv(scenes, 96, 32)
    assert truth.shape == (3, 32, 32, 3) and torch.equal(covered, uv_map(32).covered)
    assert 0 <= truth.min() and truth.max() <= 1 and truth[:, covered].std() > 0.02
    blurred = copy.deepcopy(scenes)
    for scene in blurred:  # blur, noise and an occluder change the image, not the face
        scene.update(blur=1.5, noise=0.05, occluder={"shape": "ellipse", "centre": np.zeros(2, np.float32),
                                                      "half_size": np.full(2, 0.3, np.float32), "angle": 0.0,
                                                      "colour": np.ones(3, np.float32), "textured": False,
                                                      "texture_image": 0})
    assert torch.equal(render_uv(blurred, 96, 32)[0], truth)
    turned_light = copy.deepcopy(scenes)
    for scene in turned_light:  # the light does change it: from 40 degrees further to the side
        scene["light"] = scene["light"] + np.array([0, 0, 40, 0, 0], np.float32)
    assert (render_uv(turned_light, 96, 32)[0][:, covered] - truth[:, covered]).abs().mean() > 0.02


def test_no_scenes_is_refused():
    with pytest.raises(ValueError, match="no scenes to render"):
        render_uv([], 96, 32)
