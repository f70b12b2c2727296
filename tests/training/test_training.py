"""Training, resume, data-parallel equivalence, checkpoints, evaluation and the inference API."""
import json
import os
import pickle
import socket
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import lm3d
from lm3d.evaluation import EVAL_SOURCES, evaluate_checkpoint
from lm3d.evaluation.report import main as lm3d_evaluate_main
from lm3d.model import ModelConfig, checkpoint, crop
from lm3d.model.landmark_model import Template
from lm3d.training import CHECKPOINT_NAME, PRESETS, configure, loop, preset, train
from lm3d.training.config import learning_rate_factor
from lm3d.training.data import with_fitted_crops

TINY = replace(PRESETS["fast"], steps=8, checkpoint_every=4, log_every=2, eval_count=8)


def _weights(path):
    return checkpoint.load(path, kind="detector")["model"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(TINY, out, progress=False)
    return out


def test_training_writes_a_checkpoint_and_a_log(trained):
    data = checkpoint.load(trained / CHECKPOINT_NAME, kind="detector")
    assert data["step"] == TINY.steps
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [2, 4, 6, 8] and all(np.isfinite(e["loss"]) for e in log)


@pytest.mark.slow
def test_training_reduces_the_loss(tmp_path):
    config = replace(TINY, steps=40, lr=3e-3, warmup_steps=2, checkpoint_every=40, log_every=5,
                     sources=("synth300w",), source_weights=(1.0,), train_counts=(8,))
    train(config, tmp_path, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.7 * losses[0]


def test_resume_after_an_interruption_matches_an_uninterrupted_run(tmp_path, trained):
    train(TINY, tmp_path, progress=False, stop_after=4)  # "killed" right after the checkpoint at step 4
    assert checkpoint.load(tmp_path / CHECKPOINT_NAME)["step"] == 4
    train(TINY, tmp_path, progress=False)  # the same command again resumes
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]  # no step logged twice
    resumed, straight = _weights(tmp_path / CHECKPOINT_NAME), _weights(trained / CHECKPOINT_NAME)
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], atol=1e-6, rtol=0)


def test_the_validation_curve_is_logged_and_changes_no_weight(tmp_path, trained):
    config = replace(TINY, curve_every=4, curve_count=3)
    train(config, tmp_path, progress=False, stop_after=4)  # interrupted, then resumed: the seconds count on
    train(config, tmp_path, progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    curve = [entry for entry in log if "val_nme" in entry]
    assert [entry["step"] for entry in curve] == [4, 8] and all(np.isfinite(e["val_nme"]) and e["val_nme"] > 0 for e in curve)
    seconds = [entry["train_seconds"] for entry in log]
    assert all(b >= a for a, b in zip(seconds, seconds[1:])) and seconds[0] > 0
    with_curve, without = _weights(tmp_path / CHECKPOINT_NAME), _weights(trained / CHECKPOINT_NAME)
    for name in without:
        torch.testing.assert_close(with_curve[name], without[name], atol=0, rtol=0)


def test_resume_refuses_a_different_config(tmp_path, trained):
    (tmp_path / CHECKPOINT_NAME).write_bytes((trained / CHECKPOINT_NAME).read_bytes())
    with pytest.raises(ValueError, match="another config"):
        train(replace(TINY, lr=1e-4), tmp_path, progress=False)


def test_a_baseline_resumes_whatever_the_s_settings_it_never_used(tmp_path, trained):
    data = checkpoint.load(trained / CHECKPOINT_NAME)
    data["train_config"]["model"]["s_learns_from"] = "all"  # as written before that default changed
    data["train_config"]["fitted_crop_fraction"] = 0.5  # a preset's S training default, which a box model never reads
    data["train_config"]["focal_prior_weight"] = 1.0  # and a 3D head's
    checkpoint.save(tmp_path / CHECKPOINT_NAME, data)
    assert train(TINY, tmp_path, progress=False)["steps_done"] == TINY.steps
    s_model = replace(TINY.model, crop="similarity")
    assert s_model.what_matters() == s_model and replace(s_model, s_learns_from="all").what_matters() != s_model
    s_config = replace(TINY, model=s_model)
    assert s_config.what_matters() == s_config and replace(s_config, fitted_crop_fraction=0.5).what_matters() != s_config
    assert replace(s_model, recrop=3).what_matters() == s_model  # a re-crop is read at inference only


def test_resume_refuses_a_checkpoint_of_another_renderer_version(tmp_path, trained):
    data = checkpoint.load(trained / CHECKPOINT_NAME)
    data["synth_version"] -= 1
    checkpoint.save(tmp_path / CHECKPOINT_NAME, data)
    with pytest.raises(ValueError, match="renderer v"):
        train(TINY, tmp_path, progress=False)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out, config=TINY):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(config, out, progress=False)
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one_process(tmp_path, trained):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ddp, single = _weights(tmp_path / CHECKPOINT_NAME), _weights(trained / CHECKPOINT_NAME)
    for name in single:
        # float sums differ in order across processes; Adam can amplify that on near-zero gradients
        torch.testing.assert_close(ddp[name], single[name], atol=1e-4, rtol=1e-3)


def test_evaluation_json(trained, tmp_path):
    results = evaluate_checkpoint(trained / CHECKPOINT_NAME, count=6, eval_sources=("synth300w", "hmc"))
    assert set(results["sources"]) == {"synth300w", "hmc"}
    assert results["sources"]["synth300w"]["all"]["faces"] == 6
    assert results["heldout"]["ratio"] > 0
    # the simulated detector's box is never far enough off to lose a face
    assert results["localisation"]["synth300w"]["lost_face_rate"] == 0.0 == results["summary"]["lost_face_rate_hmc"]
    assert results["localisation"]["hmc"]["nme_found"] == pytest.approx(results["sources"]["hmc"]["all"]["nme"])
    per_face = results["sources"]["synth300w"]["all"]["nme_per_face"]
    assert len(per_face) == 6 and sum(per_face) / 6 == pytest.approx(results["sources"]["synth300w"]["all"]["nme"], abs=1e-3)
    clips = results["stability"]["synth300w"]
    # the One-Euro filter smooths the static clips (jitter falls) and the raw numbers stay beside it
    assert 0 < clips["one_euro_static_jitter"] < clips["static_jitter"] and clips["one_euro_video_nme"] > 0
    json.dumps(results)  # plain JSON


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable checkpoint"),
    (b"\x00\x01garbage", "not a readable checkpoint"),
])
def test_corrupt_checkpoints_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        lm3d.Detector.from_checkpoint(path)


def test_truncated_foreign_and_unsafe_checkpoints_are_refused(tmp_path, trained):
    good = (trained / CHECKPOINT_NAME).read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
        checkpoint.load(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(checkpoint.CheckpointError, match="not an lm3d checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    (tmp_path / "unsafe.pt").write_bytes(pickle.dumps(ModelConfig()))  # would run code if unpickled blindly
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(tmp_path / "unsafe.pt")
    with pytest.raises(checkpoint.CheckpointError, match="expected 'spatial'"):
        checkpoint.load(trained / CHECKPOINT_NAME, kind="spatial")
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "none.pt")


@pytest.mark.parametrize("make, message", [
    (lambda: ModelConfig(width=4).validate(), "width"),
    (lambda: ModelConfig(crop_size=8).validate(), "crop_size"),
    (lambda: preset("fast", lr=5.0), "lr"),
    (lambda: preset("fast", steps=0), "steps"),
    (lambda: preset("fast", convention_scale=11.0), "convention_scale"),
    (lambda: preset("fast", train_counts=(1, 2)), "same length"),
    (lambda: preset("huge"), "unknown preset"),
])
def test_config_values_out_of_range(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_learning_rate_schedule():
    config = replace(TINY, steps=100, warmup_steps=10)
    factors = [learning_rate_factor(s, config) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])) and factors[-1] < 0.01


@pytest.fixture(scope="module")
def detector(trained):
    return lm3d.Detector.from_checkpoint(trained / CHECKPOINT_NAME, device="cpu")


def test_detector_accepts_the_documented_inputs(detector, tmp_path):
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    box = (10, 10, 50, 54)
    base = detector.predict(image, box=box).landmarks2d
    assert base.shape == (68, 2)
    torch.testing.assert_close(detector.predict(image / 255.0, box=box).landmarks2d, base, atol=1e-3, rtol=0)
    assert detector.predict(image.mean(-1).astype(np.uint8), box=box).landmarks2d.shape == (68, 2)
    import matplotlib.image
    matplotlib.image.imsave(tmp_path / "face.png", image)
    torch.testing.assert_close(detector.predict(tmp_path / "face.png", box=box).landmarks2d, base, atol=1e-3, rtol=0)
    batch = detector.predict(np.stack([image, image]), box=[box, box], layout="wflw98")
    assert batch.landmarks2d.shape == (2, 98, 2) and batch.names[96] == "right_pupil_1"
    queries = lm3d.layouts.get("heldout")
    assert detector.predict(image, box=box, queries=(queries.triangle, queries.barycentric)).landmarks2d.shape == (200, 2)
    # a layout of the user's own (what the query picker saves) works by name once registered
    mine = lm3d.layouts.register(lm3d.layouts.custom("detector_test_points", queries.triangle[:7],
                                                     queries.barycentric[:7]), replace=True)
    named = detector.predict(image, box=box, layout="detector_test_points")
    torch.testing.assert_close(named.landmarks2d, detector.predict(image, box=box, queries=(
        queries.triangle[:7], queries.barycentric[:7])).landmarks2d)
    assert named.names == mine.names


@pytest.mark.parametrize("image, kwargs, error, message", [
    (np.zeros((32, 32, 5), np.uint8), {}, ValueError, "HxWx3"),
    (np.zeros((0, 0, 3), np.uint8), {}, ValueError, "empty"),
    (np.full((32, 32, 3), 2.0), {}, ValueError, r"\[0, 1\]"),
    (np.zeros((32, 32, 3), np.int64), {}, ValueError, "dtype"),
    (np.zeros((32, 32, 3), np.uint8), {"box": (5, 5, 2, 20)}, ValueError, "x1 > x0"),
    (np.zeros((32, 32, 3), np.uint8), {"box": (2, 2, 20, 20), "layout": "ibug69"}, ValueError, "unknown layout"),
    (np.zeros((32, 32, 3), np.uint8), {"box": (2, 2, 20, 20), "queries": ([0], [[0.2, 0.2, 0.2]])}, ValueError, "sum to 1"),
    (np.zeros((2, 32, 32, 3), np.uint8), {"box": (2, 2, 20, 20)}, ValueError, "boxes of shape"),
    ("/nonexistent/face.png", {"box": (2, 2, 20, 20)}, FileNotFoundError, "does not exist"),
    (np.zeros((32, 32, 3), np.uint8), {}, ValueError, "needs a face box"),
    (np.zeros((32, 32, 3), np.uint8), {"box": (40, 2, 60, 20)}, ValueError, "wholly outside the 32x32 image"),
    (np.zeros((32, 48, 3), np.uint8), {"box": (-30, -30, 0, 10)}, ValueError, "wholly outside the 48x32 image"),
    ([], {"box": np.zeros((0, 4))}, ValueError, "the batch is empty"),
])
def test_detector_rejects_bad_input(detector, image, kwargs, error, message):
    with pytest.raises(error, match=message):
        detector.predict(image, **kwargs)


# --- variants with the spatial transformer S -------------------------------------------------------------
TINY_S = replace(preset("fast", "s-similarity"), steps=8, checkpoint_every=4, log_every=2, eval_count=8,
                 negative_count=8, template_weight=1.0)


@pytest.fixture(scope="module")
def trained_s(tmp_path_factory):
    out = tmp_path_factory.mktemp("run_s")
    train(TINY_S, out, progress=False)
    return out


@pytest.mark.slow
def test_the_variant_flag_picks_the_crop(tmp_path):
    assert preset("fast").model.crop == "box" and preset("fast").variant == "baseline"
    assert preset("fast", "s-affine").model.crop == "affine"
    with pytest.raises(ValueError, match="unknown variant 's-magic'.*s-similarity"):
        preset("fast", "s-magic")
    with pytest.raises(ValueError, match="needs model crop"):
        replace(preset("fast"), variant="s-affine").validate()


def test_s_training_logs_what_s_does_and_resumes_exactly(tmp_path, trained_s):
    entries = [json.loads(line) for line in (trained_s / "log.jsonl").read_text().splitlines()]
    assert {"crop_over_face", "crop_offset_over_face", "penalty_face", "penalty_template"} <= set(entries[-1])
    data = checkpoint.load(trained_s / CHECKPOINT_NAME, kind="detector")
    assert data["model_config"]["crop"] == "similarity" and 0 < data["scale_range"][0] < data["scale_range"][1]
    train(TINY_S, tmp_path, progress=False, stop_after=4)
    train(TINY_S, tmp_path, progress=False)
    resumed, straight = _weights(tmp_path / CHECKPOINT_NAME), _weights(trained_s / CHECKPOINT_NAME)
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def test_fitted_crops_go_to_the_faces_picked_and_sit_where_the_template_fits():
    template, queries = Template(), torch.randn(6, 5, 3)
    truth = crop.box_to_transform(torch.tensor([[40.0, 40.0, 90.0, 90.0]] * 6), 0.25)
    batch = {"queries": queries, "targets": crop.to_image(template(queries).detach(), truth),
             "mask": torch.ones(6, 5, dtype=torch.bool)}
    batch["mask"][5] = False  # a negative: never picked
    out = with_fitted_crops(batch, template, 1.0, torch.Generator().manual_seed(0))
    assert out["fitted_chosen"].tolist() == [True] * 5 + [False]
    centre_error = (out["fitted_crop"][:5, :, 2] - truth[:5, :, 2]).norm(dim=-1) / truth[:5, 0, 0]
    assert (centre_error < 0.3).all() and (centre_error > 0).all()  # near the fit, with a first pass's noise
    assert not with_fitted_crops(batch, template, 0.0, torch.Generator())["fitted_chosen"].any()
    with pytest.raises(ValueError, match="fitted_crop_fraction"):
        preset("fast", "s-similarity", fitted_crop_fraction=1.5)


def test_s_trains_with_fitted_crops_and_a_recrop(tmp_path):
    config = replace(TINY_S, fitted_crop_fraction=0.5, model=replace(TINY_S.model, recrop=1), curve_every=4,
                     curve_count=2)
    train(config, tmp_path, progress=False)
    assert checkpoint.load(tmp_path / CHECKPOINT_NAME, kind="detector")["model_config"]["recrop"] == 1


def test_s_alone_first_trains_s_only_once_and_repeats(tmp_path, trained_s):
    config = replace(TINY_S, localiser_pretrain_steps=6)
    train(config, tmp_path / "straight", progress=False)
    train(config, tmp_path / "resumed", progress=False, stop_after=4)  # interrupted after the phase and 4 joint steps
    train(config, tmp_path / "resumed", progress=False)  # resumed: the phase is not run again
    straight, resumed = _weights(tmp_path / "straight" / CHECKPOINT_NAME), _weights(tmp_path / "resumed" / CHECKPOINT_NAME)
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    joint_only = _weights(trained_s / CHECKPOINT_NAME)
    moved = [k for k in straight if not torch.equal(straight[k], joint_only[k])]
    assert any(k.startswith("spatial_transformer.") for k in moved) and "template.similarity" in moved
    with pytest.raises(ValueError, match="localiser_pretrain_steps"):
        replace(TINY_S, localiser_pretrain_steps=-1).validate()


def test_s_evaluation_has_stability_keys(trained_s):
    results = evaluate_checkpoint(trained_s / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",))
    assert results["boxes"] == "S" and results["found"]["synth300w"] == 100.0
    localisation = results["localisation"]["synth300w"]
    assert 0 <= localisation["lost_face_rate"] <= 100 and set(localisation) == {"lost_face_rate", "nme_found"}
    stability = results["stability"]["synth300w"]
    assert {"static_jitter", "motion_jitter", "video_nme", "roi_jitter"} <= set(stability)
    assert all(np.isfinite(v) and v >= 0 for v in stability.values())


def test_an_s_model_given_a_finders_boxes_is_scored_on_the_faces_it_found(trained_s, tmp_path):
    boxes = [[1, 2, 30, 40], None, [3, 3, 20, 20], None]  # the finder found faces 0 and 2 of four
    path = tmp_path / "boxes.json"
    others = {f"{source}/test": [[1, 2, 30, 40]] * 4 for source in EVAL_SOURCES}  # (the deformer's check reads them)
    path.write_text(json.dumps({"format": "lm3d.face_boxes/1", "boxes": {**others, "synth300w/test": boxes}}))
    every = evaluate_checkpoint(trained_s / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",), stability=False)
    found = evaluate_checkpoint(trained_s / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",), stability=False,
                                boxes=f"file:{path}")
    assert every["found"]["synth300w"] == 100.0 and found["found"]["synth300w"] == 50.0
    assert found["boxes"] == f"S, on the faces of file:{path}"
    assert found["sources"]["synth300w"]["all"]["nme"] != every["sources"]["synth300w"]["all"]["nme"]


def test_evaluation_can_set_an_s_models_recrops_and_refuses_them_for_a_box_model(trained_s, trained, tmp_path):
    kept = evaluate_checkpoint(trained_s / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",), stability=False)
    again = evaluate_checkpoint(trained_s / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",), stability=False,
                                recrop=2)
    assert kept["recrop"] == 0 and again["recrop"] == 2
    assert kept["summary"]["nme_synth300w"] != again["summary"]["nme_synth300w"]  # the faces were read from other crops
    with pytest.raises(ValueError, match="box model"):
        evaluate_checkpoint(trained / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",), recrop=1)
    with pytest.raises(SystemExit, match="recrop"):
        lm3d_evaluate_main(["--checkpoint", str(trained_s / CHECKPOINT_NAME), "--out", str(tmp_path / "e.json"),
                            "--recrop", "9"])


@pytest.fixture(scope="module")
def s_detector(trained_s):
    return lm3d.Detector.from_checkpoint(trained_s / CHECKPOINT_NAME, device="cpu")


def test_s_detector_needs_no_box_and_reports_a_face_score(s_detector):
    image = (np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8)
    s_detector.min_face_score = 0.0  # an untrained face score: take every image as a face
    result = s_detector.predict(image, layout="ibug68")
    assert result.landmarks2d.shape == (68, 2) and torch.isfinite(result.landmarks2d).all()
    assert 0 <= float(result.face_score) <= 1 and result.transform.shape == (2, 3)
    # the same answer for a grayscale copy as HxW or HxWx1, and for RGBA
    gray = image.mean(-1).astype(np.uint8)
    torch.testing.assert_close(s_detector.predict(gray).landmarks2d, s_detector.predict(gray[..., None]).landmarks2d)
    rgba = np.concatenate([image, np.full((64, 80, 1), 255, np.uint8)], -1)
    torch.testing.assert_close(s_detector.predict(rgba).landmarks2d, result.landmarks2d)
    # views with other strides: a flipped image and a crop of a larger one
    flipped = image[:, ::-1]
    torch.testing.assert_close(s_detector.predict(flipped).landmarks2d, s_detector.predict(flipped.copy()).landmarks2d)
    big = np.zeros((100, 120, 3), np.uint8)
    big[10:74, 20:100] = image
    torch.testing.assert_close(s_detector.predict(big[10:74, 20:100]).landmarks2d, result.landmarks2d)
    # a box given to a model with S is where its re-crops start: the same as that box's crop as start_crop
    box = (10.0, 5.0, 60.0, 55.0)
    started = s_detector.predict(image, box=box)
    margin = s_detector.model.config.crop_margin
    from_crop = s_detector.predict(image, start_crop=lm3d.model.crop.box_to_transform(torch.tensor([box]), margin)[0])
    torch.testing.assert_close(started.landmarks2d, from_crop.landmarks2d)
    assert not torch.allclose(started.landmarks2d, result.landmarks2d)
    with pytest.raises(ValueError, match="not both"):
        s_detector.predict(image, box=box, start_crop=started.transform)
    with pytest.raises(ValueError, match="box"):
        s_detector.predict(image, box=(0, 0, -10, 10))


def test_an_image_without_a_face_gets_no_confident_landmarks(s_detector):
    image = np.zeros((64, 64, 3), np.uint8)
    s_detector.min_face_score = 1.0  # nothing counts as a face: the path a face-free image takes
    with pytest.warns(UserWarning, match="no face found"):
        result = s_detector.predict(image)
    assert torch.isnan(result.landmarks2d).all() and "no face found" in result.message
    s_detector.min_face_score = 0.0
    with pytest.raises(ValueError, match="min_face_score"):
        lm3d.Detector(s_detector.model, min_face_score=1.5)


def test_a_crop_outside_the_trained_face_sizes_is_flagged(s_detector):
    s_detector.min_face_score = 0.0
    s_detector.scale_range = (0.9, 0.95)  # pretend S was trained only on huge faces
    with pytest.warns(UserWarning, match="than any face this model was trained on"):
        result = s_detector.predict(np.zeros((64, 64, 3), np.uint8))
    assert "unreliable" in result.message and torch.isfinite(result.landmarks2d).all()


def test_huge_images_are_refused_by_size(s_detector, monkeypatch):
    monkeypatch.setattr(lm3d.inference.images, "MAX_PIXELS", 64 * 64 - 1)
    with pytest.raises(ValueError, match="downscale it first"):
        s_detector.predict(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.slow
def test_s_under_two_gloo_processes_matches_one_process(tmp_path):
    """S's penalties, face score and template term are batch means: DDP's averaged gradients must equal one
    process's. Two steps: later, S's crops amplify float rounding differences chaotically. S's pre-phase runs the
    whole batch in every process, so it must leave them as one process leaves it."""
    config = replace(TINY_S, steps=2, checkpoint_every=1, log_every=1, warmup_steps=1, localiser_pretrain_steps=2)
    train(config, tmp_path / "single", progress=False)
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path / "ddp"), config), nprocs=2, join=True)
    ddp, single = _weights(tmp_path / "ddp" / CHECKPOINT_NAME), _weights(tmp_path / "single" / CHECKPOINT_NAME)
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], atol=1e-5, rtol=1e-4)


def test_settings_override_training_and_model_fields():
    config = configure("fast", "s-affine", 3, {"template_weight": 0.0, "model.localiser": "regression"})
    assert config.seed == 3 and config.template_weight == 0.0 and config.model.localiser == "regression"
    assert config.model.crop == "affine"
    with pytest.raises(ValueError, match="unknown setting"):
        configure("fast", "baseline", 0, {"model.wings": 2})
    assert loop._setting("model.second_pass=true") == ("model.second_pass", True)
    assert loop._setting("model.localiser=regression") == ("model.localiser", "regression")


def _benchmark(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_lost_faces_script_says_which_faces_s_lost(trained_s, capsys):
    _benchmark("lost_faces").main([str(trained_s / CHECKPOINT_NAME), "--count", "8"])
    out = capsys.readouterr().out
    assert "synth300w, 8 test faces at 64 px:" in out and "quartiles of the test set" in out
    assert "NME median" in out and "crop centre's offset" in out


def test_the_crop_quality_script_reads_the_same_faces_through_every_crop(trained_s, trained, capsys):
    script = _benchmark("crop_quality")
    script.main([str(trained_s / CHECKPOINT_NAME), "--count", "6", "--noise", "0.05",
                 "--detector", str(trained / CHECKPOINT_NAME)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "mean" in line and "median" in line]
    assert len(rows) == 2 * 6  # 0-3 re-crops, the fitted crop and one noise level, for each detector
    assert "S's crop, 0 re-crop(s) (as configured)" in out and "against the fitted crop" in out
    with pytest.raises(SystemExit, match="face box"):
        script.main([str(trained / CHECKPOINT_NAME), "--count", "2"])


def test_s_trains_with_peak_ranking_and_names_a_localiser_without_peaks(tmp_path):
    train(replace(TINY_S, peak_weight=0.5), tmp_path, progress=False)
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert all(entry["penalty_peaks"] > 0 for entry in logged if "penalty_face" in entry)
    with pytest.raises(ValueError, match="peak_weight=0.5 ranks the peaks.*'regression'"):
        replace(TINY_S, peak_weight=0.5, model=replace(TINY_S.model, localiser="regression")).validate()
