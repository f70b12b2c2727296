import pytest

from lm3d.evaluation.visibility import visibility_by_group
from lm3d.face import layouts


def test_visibility_is_scored_overall_and_per_group(untrained):
    table = visibility_by_group(untrained("crop-3d"), "synth300w", count=6, image_size=64)
    groups = set(layouts.get("ibug68").groups)
    assert table["faces"] == 6 and set(table) == {"faces", "all"} | groups
    for row in (table["all"], *(table[g] for g in groups)):
        assert 0 <= row["visibility_accuracy"] <= 100 and 0 <= row["truly_visible"] <= 100
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        visibility_by_group(untrained("baseline"), count=2, image_size=64)
