import pytest
import torch

import lm3d


@pytest.fixture(scope="session")
def face():
    return lm3d.CanonicalFace.load()


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
