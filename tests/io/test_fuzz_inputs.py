"""Property-based fuzzing (hypothesis) of what users feed the detector: arrays of any shape, dtype and values,
boxes anywhere, files cut short. Each gets a named error or a finite answer: never a crash, never NaN where a face
was reported."""
import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lm3d.inference import Detector, read_image
from lm3d.io import read_pts, write_pts

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DTYPES = (np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_)


@st.composite
def arrays(draw):
    shape = tuple(draw(st.lists(st.integers(0, 24), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(DTYPES))
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(("unit", "bytes", "wild")))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = {"unit": rng.random(size), "bytes": rng.integers(0, 256, size).astype(float),
              "wild": rng.choice([np.nan, np.inf, -1.0, 0.5, 300.0, 1e9], size)}[kind]
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype).reshape(shape) if dtype != np.bool_ else (values > 0.5).reshape(shape)


@FUZZ
@given(arrays())
def test_read_image_answers_rgb_uint8_or_names_the_problem(array):
    try:
        image = read_image(array)
    except ValueError as error:
        assert str(error)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.shape[:2] == array.shape[:2]


@pytest.fixture(scope="module")
def detectors(untrained):
    return {variant: Detector(untrained(variant), min_face_score=0.5) for variant in ("baseline", "s-3d")}


@FUZZ
@given(height=st.integers(1, 80), width=st.integers(1, 80), seed=st.integers(0, 2**16),
       box=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=4, max_size=4))
def test_predict_gives_a_named_error_or_finite_landmarks(detectors, height, width, seed, box):
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    for variant, detector in detectors.items():
        try:
            result = detector.predict(image, box=box if variant == "baseline" else None)
        except ValueError as error:
            assert variant == "baseline" and ("face box" in str(error))
            continue
        if variant == "baseline" or result.face_score >= detector.min_face_score:
            assert torch.isfinite(result.landmarks2d).all()
        else:
            assert torch.isnan(result.landmarks2d).all() and "no face" in result.message


@FUZZ
@given(cut=st.floats(0.0, 0.99), kind=st.sampled_from(("png", "jpeg", "pts")))
def test_files_cut_short_are_refused_by_name(tmp_path_factory, cut, kind):
    folder = tmp_path_factory.mktemp("cut")
    if kind == "pts":
        write_pts(folder / "whole.pts", np.arange(10.0).reshape(5, 2))
        data = (folder / "whole.pts").read_bytes()
    else:
        buffer = io.BytesIO()
        Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buffer, format=kind.upper())
        data = buffer.getvalue()
    path = folder / f"cut.{kind}"
    path.write_bytes(data[:int(len(data) * cut)])
    try:
        result = read_pts(path, 5) if kind == "pts" else read_image(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    assert np.isfinite(result).all() and (kind == "pts" or result.shape == (16, 16, 3))
