"""The 3D head end to end: training with --variant crop-3d / s-3d, the pose keys of evaluation, Detector's outputs."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import lm3d
from lm3d.evaluation import evaluate_checkpoint
from lm3d.face import camera
from lm3d.model import ContinuousLandmarkModel, checkpoint
from lm3d.training import CHECKPOINT_NAME, loop, preset, train
from lm3d.vis import plots_3d, widgets

POSE_KEYS = {"rotation_deg", "focal_log_error", "nme3d", "visibility_f1", "yaw_mae", "translation_cm", "ordinal_depth"}


def tiny(variant):
    return replace(preset("fast", variant), steps=6, checkpoint_every=3, log_every=2, eval_count=8,
                   negative_count=8)


@pytest.fixture(scope="module")
def trained_3d(tmp_path_factory):
    runs = {}
    for variant in ("crop-3d", "s-3d"):
        runs[variant] = tmp_path_factory.mktemp(variant)
        train(tiny(variant), runs[variant], progress=False)
    return runs


@pytest.mark.slow
def test_the_cli_trains_the_3d_variants(tmp_path):
    loop.main(["--preset", "fast", "--variant", "s-3d", "--steps", "2", "--out", str(tmp_path), "--no-eval"])
    data = checkpoint.load(tmp_path / CHECKPOINT_NAME, kind="detector")
    assert data["model_config"]["head"] == "3d" and data["train_config"]["variant"] == "s-3d"
    assert preset("fast", "crop-3d").model.crop == "box"


def test_3d_training_logs_its_priors_and_resumes_exactly(tmp_path, trained_3d):
    log = [json.loads(line) for line in (trained_3d["crop-3d"] / "log.jsonl").read_text().splitlines()]
    assert {"penalty_offset", "penalty_scale_drift", "penalty_focal_prior", "crop_focal", "depth_cm"} <= set(log[-1])
    train(tiny("crop-3d"), tmp_path, progress=False, stop_after=3)
    train(tiny("crop-3d"), tmp_path, progress=False)
    resumed = checkpoint.load(tmp_path / CHECKPOINT_NAME)["model"]
    straight = checkpoint.load(trained_3d["crop-3d"] / CHECKPOINT_NAME)["model"]
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


@pytest.mark.parametrize("variant", ["crop-3d", "s-3d"])
def test_evaluation_adds_the_pose_keys(trained_3d, variant):
    results = evaluate_checkpoint(trained_3d[variant] / CHECKPOINT_NAME, count=6, eval_sources=("synth300w",),
                                  stability=False)
    pose = results["pose"]["synth300w"]
    assert POSE_KEYS <= set(pose) and pose["faces"] == 6
    assert all(np.isfinite(pose[k]) and pose[k] >= 0 for k in POSE_KEYS)
    assert 0 <= pose["visibility_f1"] <= 100 and {"rotation_deg_synth300w", "nme3d_synth300w"} <= set(results["summary"])
    by_yaw = pose["rotation_by_yaw"]  # every face in one bin of |yaw|, and the bins' means average to the mean
    assert sum(b["faces"] for b in by_yaw) == 6
    assert sum(b["faces"] * b["mean"] for b in by_yaw if b["faces"]) / 6 == pytest.approx(pose["rotation_deg"], rel=1e-4)
    json.dumps(results)


def test_a_2d_head_has_no_pose_keys():
    model = ContinuousLandmarkModel(preset("fast").model)
    from lm3d.evaluation.pose import evaluate_pose
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        evaluate_pose(model, "synth300w", 2, 64)


def test_the_detector_reports_3d_pose_camera_and_visibility(trained_3d):
    detector = lm3d.Detector.from_checkpoint(trained_3d["s-3d"] / CHECKPOINT_NAME, device="cpu",
                                             min_face_score=0.0)
    image = lm3d.synth.SynthFaces("synth300w", "test", 1, image_size=80)[0]["image"].permute(1, 2, 0).numpy()
    result = detector.predict(image, layout="ibug68")
    assert result.landmarks3d.shape == (68, 3) and result.translation.shape == (3,)
    camera.check_rotation(result.rotation)
    fx, fy, cx, cy = result.intrinsics.tolist()
    torch.testing.assert_close(torch.tensor([cx, cy]), result.transform[:, 2])  # the principal point: the crop centre
    assert fx == fy > 0
    assert set(result.euler) == {"yaw", "pitch", "roll"} and result.euler["yaw"].ndim == 0
    assert result.visible.dtype == torch.bool and result.visible.shape == (68,) and result.mesh3d.shape == (468, 3)
    # the 2D landmarks are the 3D points through the reported camera
    posed = camera.to_camera(result.landmarks3d[None], result.rotation[None], result.translation[None])
    torch.testing.assert_close(camera.project(posed, result.intrinsics[None])[0], result.landmarks2d, atol=1e-3, rtol=1e-4)
    batch = detector.predict([image, image[:, ::-1]], layout="five")
    assert batch.landmarks3d.shape == (2, 5, 3) and batch.rotation.shape == (2, 3, 3) and batch.visible.shape == (2, 5)
    detector.min_face_score = 1.0
    with pytest.warns(UserWarning, match="no face found"):
        missing = detector.predict(np.zeros((64, 64, 3), np.uint8))
    assert torch.isnan(missing.rotation).all() and torch.isnan(missing.euler["roll"]) and not missing.visible.any()


def test_a_checkpoint_whose_camera_rotation_is_broken_is_refused(tmp_path, trained_3d):
    data = checkpoint.load(trained_3d["crop-3d"] / CHECKPOINT_NAME)
    data["model"]["camera_head.mlp.2.bias"][:6] = 0.0  # a 6D rotation of two zero vectors
    checkpoint.save(tmp_path / "broken.pt", {k: v for k, v in data.items() if k != "format"})
    with pytest.raises(checkpoint.CheckpointError, match="camera head's rotation"):
        lm3d.Detector.from_checkpoint(tmp_path / "broken.pt")


# --- figures and the explorer widget (thin wrappers over lm3d.plots_3d) ---------------------------------------
@pytest.fixture(scope="module")
def frames(trained_3d):
    detector = lm3d.Detector.from_checkpoint(trained_3d["s-3d"] / CHECKPOINT_NAME, device="cpu",
                                             min_face_score=0.0)
    rendered = lm3d.synth.SynthFaces("synth300w", "test", 3, image_size=64).render([0, 1, 2])
    images = [i.permute(1, 2, 0).numpy() for i in rendered["image"]]
    return detector, images, rendered


def test_pose_frames_hold_the_dense_face_and_the_layout(frames):
    detector, images, _ = frames
    poses = widgets.pose_frames(detector, images, layout="five")
    assert len(poses) == 3 and poses[0]["landmarks2d"].shape == (5, 2) and poses[0]["dense3d"].shape == (468, 3)
    assert poses[0]["dense2d"].shape == (468, 2) and set(poses[0]["euler"]) == {"yaw", "pitch", "roll"}
    two_d = lm3d.Detector(ContinuousLandmarkModel(preset("fast").model))
    with pytest.raises(ValueError, match="2D head"):
        widgets.pose_frames(two_d, images)


def test_pose_figures_have_their_parts(frames):
    import matplotlib.pyplot as plt
    detector, images, rendered = frames
    pose = widgets.pose_frames(detector, images)[0]
    truth = {"rotation": rendered["rotation"][0], "translation": rendered["translation"][0]}
    figure = plots_3d.pose_view(images[0], pose, detector.face, truth)
    kinds = [type(t).__name__ for t in figure.data]
    assert kinds.count("Mesh3d") == 1 and kinds.count("Image") == 1 and len(figure.data) == 12
    assert {"true pose x", "head pose x", "camera", "predicted mesh"} <= {t.name for t in figure.data}
    timeline = plots_3d.pose_over_time({"yaw": torch.zeros(4), "pitch": torch.ones(4), "roll": torch.zeros(4)},
                                       {"yaw": torch.zeros(4), "pitch": torch.zeros(4), "roll": torch.zeros(4)}, frame=2)
    assert len(timeline.data) == 6 and timeline.layout.shapes[0].x0 == 2
    fig, ax = plt.subplots()
    plots_3d.mesh_overlay(ax, images[0], pose["dense2d"], detector.face)
    assert len(ax.lines) >= 1
    plt.close(fig)
    triangles = detector.face.triangles.tolist()
    by_hand = {frozenset(pair) for a, b, c in triangles for pair in ((a, b), (b, c), (c, a))}
    edges = plots_3d.mesh_edges(detector.face.triangles)
    assert len(edges) == len(by_hand) and {frozenset(e) for e in edges.tolist()} == by_hand


def test_the_pose_explorer_steps_through_frames(frames):
    detector, images, rendered = frames
    explorer = widgets.PoseExplorer(detector, images, truth={"rotation": rendered["rotation"],
                                                             "translation": rendered["translation"]})
    first = explorer.figure.data[-2].x
    explorer.buttons["next"].click()
    assert "frame 1" in explorer.status.value and "rotation error" in explorer.status.value
    assert explorer.timeline.layout.shapes[0].x0 == 1 and explorer.figure.data[-2].x != first
    explorer.buttons["previous"].click()
    explorer.buttons["previous"].click()
    assert "frame 2" in explorer.status.value  # wraps around
    explorer.poses[0] = {}  # a broken frame: the error shows in the widget's own panel
    explorer.slider.value = 0
    assert "KeyError" in explorer.status.value


def _pose_sources():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "pose_sources.py"
    spec = importlib.util.spec_from_file_location("pose_sources", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_pose_fit_finds_a_known_pose_from_a_frontal_start():
    from lm3d.evaluation import metrics
    from lm3d.face import CanonicalFace, layouts
    points = layouts.get("ibug68").points(CanonicalFace.load())[None].expand(2, -1, -1)
    rotation = torch.stack([camera.euler_to_rotation(torch.tensor(30.0), torch.tensor(-15.0), torch.tensor(10.0)),
                            camera.euler_to_rotation(torch.tensor(-50.0), torch.tensor(20.0), torch.tensor(-5.0))])
    translation = torch.tensor([[5.0, -3.0, 60.0], [-10.0, 4.0, 120.0]])
    intrinsics = torch.tensor([[300.0, 300.0, 128.0, 128.0], [500.0, 500.0, 128.0, 128.0]])
    seen = camera.project(camera.to_camera(points, rotation, translation), intrinsics)
    fitted = _pose_sources().fit_pose(points, seen, intrinsics, torch.eye(3).expand(2, 3, 3),
                                      torch.tensor([[0.0, 0.0, 80.0]] * 2))
    assert metrics.rotation_error_degrees(fitted, rotation).max() < 0.1


def test_the_pose_sources_script_reports_gamma_the_fits_and_the_shear(trained_3d, tmp_path, capsys):
    script = _pose_sources()
    script.main([str(trained_3d["crop-3d"] / CHECKPOINT_NAME), "--count", "4", "--image-size", "64"])
    out = capsys.readouterr().out
    assert "1. gamma's rotation" in out and out.count(" deg (median ") == 10 and "true shapes" in out
    config = tiny("baseline")
    loop.save_checkpoint(tmp_path / "2d.pt", ContinuousLandmarkModel(config.model), config)
    with pytest.raises(SystemExit, match="2D head"):
        script.main([str(tmp_path / "2d.pt"), "--count", "2"])


def test_the_shear_prior_is_logged_when_asked_for(tmp_path):
    train(replace(tiny("crop-3d"), steps=2, shear_weight=1.0), tmp_path, progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1]["penalty_shear"] >= 0


def test_the_2d_assistant_learns_beside_the_3d_head_and_leaves_the_answer_to_the_projection(tmp_path):
    config = replace(tiny("crop-3d"), steps=2)
    config = replace(config, model=replace(config.model, assist_2d=True))
    train(config, tmp_path, progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1]["penalty_assist"] > 0
    model = lm3d.model.load_model(tmp_path / CHECKPOINT_NAME, "cpu")
    images, boxes = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8), torch.tensor([[8.0, 8.0, 56.0, 56.0]] * 2)
    with torch.no_grad():
        out = model(images, boxes, torch.randn(5, 3))
    assert out["assist2d"].shape == out["landmarks2d"].shape == (2, 5, 2)
    assert not torch.equal(out["assist2d"], out["landmarks2d"])
    two_d = ContinuousLandmarkModel(replace(config.model, head="2d"))  # a 2D head ignores it (a preset sets it for all)
    assert two_d.assistant is None and replace(config.model, head="2d").what_matters().assist_2d is False
