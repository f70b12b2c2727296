import pytest
import torch

from lm3d.evaluation.visibility import visibility_by_group
from lm3d.face import layouts
from lm3d.model.landmark_model import ContinuousLandmarkModel
from lm3d.training import preset


def test_visibility_is_scored_overall_and_per_group():
    torch.manual_seed(0)
    model = ContinuousLandmarkModel(preset("fast", "crop-3d").model).eval()
    table = visibility_by_group(model, "synth300w", count=6, image_size=64)
    groups = set(layouts.get("ibug68").groups)
    assert table["faces"] == 6 and set(table) == {"faces", "all"} | groups
    for row in (table["all"], *(table[g] for g in groups)):
        assert 0 <= row["visibility_accuracy"] <= 100 and 0 <= row["truly_visible"] <= 100
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        visibility_by_group(ContinuousLandmarkModel(preset("fast", "baseline").model).eval(), count=2, image_size=64)
