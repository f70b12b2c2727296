import pytest
import torch

import lm3d
from lm3d.model.landmark_model import ContinuousLandmarkModel
from lm3d.training import preset

# Fixtures that train a model: every test that uses one is slow (``pytest -m "not slow"`` leaves them out)
TRAINED_FIXTURES = {"trained", "trained_s", "trained_3d", "trained_full", "detector", "s_detector", "frames"}


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def face():
    return lm3d.CanonicalFace.load()


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def untrained():
    """``untrained(variant)``: an untrained model of that variant of the fast preset, seeded: for the tests of what
    surrounds a model (tracking, readers, exports, scoring), not of what it learns."""
    def make(variant: str) -> ContinuousLandmarkModel:
        torch.manual_seed(0)
        return ContinuousLandmarkModel(preset("fast", variant).model).eval()
    return make
