"""The shipped weights: exported from a training checkpoint, loaded by name, refused when foreign or corrupt."""
import numpy as np
import pytest
import skimage.data
import torch

from lm3d import Detector
from lm3d.model import checkpoint
from lm3d.model.checkpoint import PRETRAINED_FILE, CheckpointError
from lm3d.training import preset
from lm3d.training.loop import save_checkpoint


@pytest.fixture
def training_checkpoint(tmp_path, untrained):
    model = untrained("full")
    optimizer = torch.optim.AdamW(model.parameters())
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model, preset("fast", "full"), optimizer, step=12)
    return path


def test_export_keeps_the_model_in_half_precision_and_drops_the_optimizer(tmp_path, training_checkpoint):
    out = tmp_path / "shipped.pt"
    written = checkpoint.export_weights(training_checkpoint, out, {"provenance": {"command": "train it"}})
    data = checkpoint.load(out)
    assert "optimizer" not in data and data["provenance"] == {"command": "train it"} == written["provenance"]
    assert all(v.dtype == torch.float16 for v in data["model"].values() if v.is_floating_point())
    assert out.stat().st_size < 0.6 * training_checkpoint.stat().st_size
    image = skimage.data.astronaut()[::2, ::2]
    full, half = (Detector.from_checkpoint(p).predict(image, layout="ibug68") for p in (training_checkpoint, out))
    assert half.landmarks3d is not None and half.face_score is not None
    # float16 weights: the same answers to within a small fraction of a pixel on a 256 px image
    assert torch.allclose(full.landmarks2d, half.landmarks2d, atol=0.5, equal_nan=True)


def test_the_name_pretrained_means_the_shipped_file(monkeypatch, tmp_path, training_checkpoint):
    shipped = tmp_path / "assets" / "lm3d_full.pt"
    checkpoint.export_weights(training_checkpoint, shipped)
    monkeypatch.setattr(checkpoint, "PRETRAINED_FILE", shipped)
    assert checkpoint.resolve("pretrained") == shipped and checkpoint.resolve(tmp_path) == tmp_path
    assert Detector.from_pretrained().model.deformer is not None
    monkeypatch.setattr(checkpoint, "PRETRAINED_FILE", tmp_path / "gone.pt")
    with pytest.raises(CheckpointError, match="pretrained weights .*gone.pt are missing"):
        Detector.from_pretrained()


def test_a_foreign_or_corrupt_weights_file_is_refused_by_name(monkeypatch, tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(PRETRAINED_FILE.read_bytes()[:5000] if PRETRAINED_FILE.is_file() else b"PK\x03\x04 broken")
    for path, message in ((foreign, "not an lm3d checkpoint"), (truncated, "truncated or corrupt")):
        monkeypatch.setattr(checkpoint, "PRETRAINED_FILE", path)
        with pytest.raises(CheckpointError, match=message) as error:
            Detector.from_pretrained()
        assert path.name in str(error.value)


@pytest.mark.skipif(not PRETRAINED_FILE.is_file(), reason="no shipped weights in this checkout")
def test_the_shipped_detector_reads_a_real_photo_with_no_box_and_refuses_an_empty_one():
    detector = Detector.from_pretrained(device="cpu")
    model = detector.model
    assert not model.needs_box and model.camera_head is not None and model.deformer is not None
    result = detector.predict(skimage.data.astronaut(), layout="ibug68")
    assert result.landmarks2d.shape == (68, 2) and torch.isfinite(result.landmarks2d).all()
    assert result.visible.shape == (68,) and set(result.euler) == {"yaw", "pitch", "roll"}
    assert float(result.face_score) >= detector.min_face_score
    with pytest.warns(UserWarning, match="no face found"):
        empty = detector.predict(np.full((256, 256, 3), 128, np.uint8), layout="ibug68")
    assert float(empty.face_score) < detector.min_face_score and torch.isnan(empty.landmarks2d).all()
