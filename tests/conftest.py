import pytest
import torch

import lm3d

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
