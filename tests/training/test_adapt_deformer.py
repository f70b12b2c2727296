"""A new dataset for a trained model with D (lm3d.adapt_deformer): only D's new code learns, every known dataset
answers exactly as before, the adapted checkpoint answers in the new convention, and bad data is named."""
import json

import numpy as np
import pytest
import torch

import lm3d
from lm3d.face import layouts
from lm3d.inference import predict_batches
from lm3d.model import load_model
from lm3d.training import CHECKPOINT_NAME, adapt_deformer, configure, preset, train

TINY = configure("fast", "crop-3d", 0, {"model.deformer": True, "steps": 6, "checkpoint_every": 6,
                                              "log_every": 3, "eval_count": 4})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("crop3d_d")
    train(TINY, out, progress=False)
    return out / CHECKPOINT_NAME


def test_only_the_new_code_learns_and_known_datasets_are_unchanged(trained, face):
    model = load_model(trained, "cpu")
    torch.nn.init.normal_(model.deformer.mlp[-1].weight, std=0.3)  # a tiny run's D barely moves: make it matter
    faces = adapt_deformer.synth_faces("synthuser", "train", 16, TINY.image_size)
    queries = layouts.get("ibug68").points(face)
    known = (None,) + model.deformer.datasets
    before = {name: predict_batches(model, faces["image"], faces["bbox"], queries, dataset=name)["landmarks2d"]
              for name in known}
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    start = adapt_deformer.nme(model, faces, queries, model.deformer.datasets[0])  # where the new code starts
    adapt_deformer.adapt(model, "synthuser", faces, steps=40, batch_size=16, lr=0.1)
    assert model.deformer.datasets[-1] == "synthuser" and model.config.datasets == model.deformer.datasets
    assert adapt_deformer.nme(model, faces, queries, "synthuser") < start  # the new code fits the faces it saw
    for name in known:
        after = predict_batches(model, faces["image"], faces["bbox"], queries, dataset=name)["landmarks2d"]
        assert torch.equal(after, before[name]), f"{name} changed"
    table = model.state_dict()["deformer.embedding.weight"]
    assert torch.equal(table[:-1], weights["deformer.embedding.weight"])
    assert not torch.equal(table[-1], weights["deformer.embedding.weight"][1])  # it started as the first dataset's
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items() if k != "deformer.embedding.weight")
    assert all(p.requires_grad for p in model.parameters())  # the caller's model is left trainable ...
    model.deformer.embedding.weight.grad = None
    model.deformer.embedding.weight.sum().backward()
    assert (model.deformer.embedding.weight.grad == 1).all()  # ... every row of it: no gradient mask is left behind


def test_with_a_network_rate_d_s_network_learns_too_and_known_datasets_move(trained, face):
    model = load_model(trained, "cpu")
    faces = adapt_deformer.synth_faces("synthuser", "train", 8, TINY.image_size)
    queries = layouts.get("ibug68").points(face)
    before = predict_batches(model, faces["image"], faces["bbox"], queries, dataset="synthwflw")["landmarks2d"]
    network = {k: v.clone() for k, v in model.deformer.mlp.state_dict().items()}
    adapt_deformer.adapt(model, "synthuser", faces, steps=3, batch_size=4, network_lr=1e-3)
    assert any(not torch.equal(v, model.deformer.mlp.state_dict()[k]) for k, v in network.items())
    after = predict_batches(model, faces["image"], faces["bbox"], queries, dataset="synthwflw")["landmarks2d"]
    assert not torch.equal(after, before)  # the price of a free network: the known datasets' answers move too
    with pytest.raises(ValueError, match="network_lr"):
        adapt_deformer.adapt(model, "other", faces, steps=1, network_lr=-1.0)


def test_the_command_writes_a_checkpoint_the_detector_answers_in(trained, tmp_path, capsys):
    out = tmp_path / "adapted"
    adapt_deformer.main(["--checkpoint", str(trained), "--dataset", "synthuser", "--synth", "synthuser",
                         "--count", "8", "--steps", "3", "--out", str(out)])
    report = json.loads((out / "adapt.json").read_text())
    assert report["dataset"] == "synthuser" and np.isfinite(report["nme_after"])
    detector = lm3d.Detector.from_checkpoint(out / "checkpoint.pt", device="cpu", min_face_score=0.0)
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    box = np.array([8.0, 8.0, 56.0, 56.0])
    assert detector.predict(image, box=box, dataset="synthuser").landmarks2d.shape == (68, 2)
    with pytest.raises(ValueError, match="unknown dataset 'mine'.*synthuser"):
        detector.predict(image, box=box, dataset="mine")


def test_bad_requests_and_bad_data_are_named(trained, tmp_path):
    model = load_model(trained, "cpu")
    with pytest.raises(ValueError, match="already knows dataset 'synthwflw'"):
        adapt_deformer.grow_deformer(model, "synthwflw")
    faces = adapt_deformer.synth_faces("synthuser", "train", 4, TINY.image_size)
    with pytest.raises(ValueError, match="needs 'boxes'"):
        adapt_deformer.adapt(model, "mine", {k: v for k, v in faces.items() if k != "bbox"}, steps=1)
    without_d = lm3d.model.ContinuousLandmarkModel(preset("fast", "crop-3d").model)
    with pytest.raises(ValueError, match="no query deformer"):
        adapt_deformer.grow_deformer(without_d, "mine")
    layout = layouts.get("ibug68")
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((2, 64, 64, 3), np.float32), landmarks=np.zeros((2, 68, 2)))
    with pytest.raises(ValueError, match="images must be uint8"):
        adapt_deformer.load_npz(path, layout)
    np.savez(path, images=np.zeros((2, 64, 64, 3), np.uint8), landmarks=np.zeros((2, 98, 2)))
    with pytest.raises(ValueError, match="K=68 for ibug68"):
        adapt_deformer.load_npz(path, layout)
    np.savez(path, images=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="no 'landmarks' array"):
        adapt_deformer.load_npz(path, layout)


def test_a_users_npz_gets_synthfaces_inter_ocular_distance(tmp_path):
    faces = adapt_deformer.synth_faces("synth300w", "test", 6, 64)  # the reference convention, so eye corners agree
    path = tmp_path / "mine.npz"
    np.savez(path, images=faces["image"].permute(0, 2, 3, 1).numpy(), landmarks=faces["landmarks2d"].numpy(),
             boxes=faces["bbox"].numpy())
    loaded = adapt_deformer.load_npz(path, layouts.get("ibug68"))
    assert torch.equal(loaded["image"], faces["image"]) and torch.equal(loaded["bbox"], faces["bbox"])
    # the annotation noise (1 % of the IOD per point) is all that separates the two
    torch.testing.assert_close(loaded["iod"], faces["iod"], rtol=0.05, atol=0)
    with pytest.raises(ValueError, match="no outer eye corners"):
        adapt_deformer.iod_from_landmarks(torch.zeros(1, 5, 2), layouts.get("five"))


def test_the_holdout_is_a_seeded_random_draw_not_the_last_files():
    faces = {"image": torch.arange(20).view(20, 1), "iod": torch.arange(20.0)}
    train_faces, test_faces, held_out = adapt_deformer.holdout_split(faces, 0.25, seed=0)
    assert len(held_out) == 5 and held_out == sorted(held_out) and held_out != list(range(15, 20))
    assert test_faces["image"].flatten().tolist() == held_out
    assert sorted(train_faces["image"].flatten().tolist() + held_out) == list(range(20))  # every face once
    assert adapt_deformer.holdout_split(faces, 0.25, seed=0)[2] == held_out  # the same seed, the same split
    assert adapt_deformer.holdout_split(faces, 0.25, seed=1)[2] != held_out
    assert len(adapt_deformer.holdout_split(faces, 0.99)[2]) == 19  # one face is always left to train on
    with pytest.raises(ValueError, match="at least 2 faces"):
        adapt_deformer.holdout_split({"image": torch.zeros(1, 1)}, 0.5)
