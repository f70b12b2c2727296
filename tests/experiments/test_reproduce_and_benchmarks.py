"""The main job's tables and the benchmark scripts, at toy size."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lm3d.evaluation import EVALUATION_VERSION
from lm3d.experiments import cli
from lm3d.experiments.ladder import ladder_markdown
from lm3d.experiments.seed_runs import aggregate, run_seed, training_minutes
from lm3d.training import CHECKPOINT_NAME, preset, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_seeds_table_end_to_end(tmp_path):
    cli.main(["--preset", "fast", "--seeds", "0", "1", "--runs", str(tmp_path / "runs"), "--jobs", "2",
              "--out", str(tmp_path / "reports")])
    table = json.loads((tmp_path / "reports" / "baseline_results.json").read_text())["table"]
    assert len(table["NME synth300w"]["values"]) == 2 and table["NME synth300w"]["std"] >= 0
    assert "| NME synth300w |" in (tmp_path / "reports" / "baseline_results.md").read_text()
    assert (tmp_path / "reports" / "baseline_learning_curves.png").stat().st_size > 1000
    # a second call reuses the finished runs instead of training again
    before = (tmp_path / "runs" / "fast_seed0" / "metrics.json").stat().st_mtime_ns
    cli.main(["--preset", "fast", "--seeds", "0", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "r2")])
    assert (tmp_path / "runs" / "fast_seed0" / "metrics.json").stat().st_mtime_ns == before
    # seed 0 trained beside seed 1, in a process of its own, gives what it gives alone in this one
    alone = run_seed("fast", 0, tmp_path / "alone")
    beside = json.loads((tmp_path / "runs" / "fast_seed0" / "metrics.json").read_text())
    assert alone["summary"] == beside["summary"]


def test_aggregate_mean_and_spread():
    def result(nme, minutes):
        subsets = {"all": {"nme": nme, "fr@10": 0.0, "auc@10": 0.5}}
        heldout = {"heldout": {"nme": nme}, "ibug68": {"nme": nme}, "ratio": 1.0}
        return {"sources": {"synth300w": subsets}, "heldout": heldout, "train_minutes": minutes}

    table = aggregate([result(4.0, 1.0), result(6.0, 3.0)])
    assert table["NME synth300w"]["mean"] == 5.0 and abs(table["NME synth300w"]["std"] - 2 ** 0.5) < 1e-9
    assert table["training minutes"]["mean"] == 2.0 and table["held-out / layout NME"]["std"] == 0.0


def test_benchmark_scripts_print_figures():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_model.py"), "--preset", "fast",
                          "--repeats", "1", "--batch", "4"], capture_output=True, text=True, check=True).stdout
    assert "train images/s" in out and "single-image latency ms" in out and "s-3d" in out
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_synth.py"), "--sizes", "64",
                          "--batch", "4", "--batches", "1"], capture_output=True, text=True, check=True).stdout
    assert "images/s" in out and out.strip().splitlines()[-1].split()[0] == "cpu"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_training_step.py"), "--image-size", "64",
                          "--rounds", "1", "--batch", "2"], capture_output=True, text=True, check=True).stdout
    assert "refiner" in out and out.count("ms/step") == 6 and "ratio 1.00" in out



def test_the_one_euro_settings_benchmark_chooses_by_its_rule(tmp_path):
    train(preset("fast"), tmp_path, progress=False)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "one_euro_settings.py"), str(tmp_path / CHECKPOINT_NAME),
                          "--clips", "1"], capture_output=True, text=True, check=True).stdout
    assert out.count("min_cutoff") >= 36 and ("chosen" in out or "no setting" in out)


@pytest.mark.slow
def test_the_ladder_and_the_claims_end_to_end(tmp_path):
    cli.main(["--ladder", "--preset", "fast", "--seeds", "0", "--runs", str(tmp_path / "runs"),
                    "--out", str(tmp_path / "reports"), "--mtcnn-boxes", str(tmp_path / "none.json")])
    rows = json.loads((tmp_path / "reports" / "ladder_results.json").read_text())["rows"]
    assert list(rows) == ["baseline, simulated detector box",
                          "baseline, simulated detector box, One-Euro filtered (stability only)",
                          "baseline, LBP detector box", "S similarity",
                          "3D head, box crop (crop-3d)", "3D head + D, box crop (crop-3d + D)", "S + 3D head (s-3d)",
                          "S + 3D head + D (full)"]
    assert "D offset error synthwflw" in rows["3D head + D, box crop (crop-3d + D)"]  # trained with D, its own run
    filtered = rows["baseline, simulated detector box, One-Euro filtered (stability only)"]
    assert set(filtered) == {"static jitter synth300w", "motion jitter synth300w", "video nme synth300w"} | {
        f"{k} {s}" for k in ("static jitter", "motion jitter", "video nme") for s in ("synthwflw", "synthmpie", "hmc")}
    assert "motion jitter synth300w" in rows["S similarity"] and "roi jitter synth300w" in rows["S similarity"]
    assert "rotation_deg synth300w" in rows["S + 3D head + D (full)"]
    text = (tmp_path / "reports" / "ladder_results.md").read_text()
    assert "| S similarity | 100 |" in text and "| S + 3D head (s-3d) | " in text.split("Pose, camera")[1]
    per_face = json.loads((tmp_path / "reports" / "ladder_per_face.json").read_text())
    # the fast preset: 16 test faces
    assert len(per_face["S similarity"]) == 1 and len(per_face["S similarity"][0]["synth300w"]) == 16
    assert "baseline, simulated detector box, One-Euro filtered (stability only)" not in per_face
    rois = json.loads((tmp_path / "reports" / "ladder_rois.json").read_text())["rois"]
    assert {"truth", "simulated detector", "S similarity", "S + 3D head + D (full)"} <= set(rois)
    assert "3D head, box crop (crop-3d)" not in rois and len(rois["S similarity"]) == len(rois["truth"])  # one per frame
    # the claims reuse the ladder's runs (nothing is trained again)
    stamp = (tmp_path / "runs" / "fast_s-3d_seed0" / "metrics.json").stat().st_mtime_ns
    cli.main(["--claims", "--preset", "fast", "--seeds", "0", "--runs", str(tmp_path / "runs"),
              "--out", str(tmp_path / "reports"), "--mtcnn-boxes", str(tmp_path / "none.json")])
    assert (tmp_path / "runs" / "fast_s-3d_seed0" / "metrics.json").stat().st_mtime_ns == stamp
    records = json.loads((tmp_path / "reports" / "claims.json").read_text())["rows"]
    assert len(records) == 10 and all(r["verdict"] in ("reproduced", "not reproduced", "mixed") for r in records)
    assert "| The 3D head improves NME |" in (tmp_path / "reports" / "claims.md").read_text()


@pytest.mark.slow
def test_the_3d_head_table_end_to_end(tmp_path):
    cli.main(["--head-3d", "--preset", "fast", "--seeds", "0", "--runs", str(tmp_path / "runs"),
                    "--out", str(tmp_path / "reports")])
    rows = json.loads((tmp_path / "reports" / "head_3d_results.json").read_text())["rows"]
    assert len(rows) == 5 and "rotation_deg synth300w" in rows["3D head, S similarity (s-3d)"]
    assert "rotation_deg synth300w" not in rows["2D head, box crop (baseline)"]
    text = (tmp_path / "reports" / "head_3d_results.md").read_text()
    assert "| 3D head untrained: its priors only |" in text and "Focal error" in text
    # beyond the claims: S affine and the other principal point, beside the rows they replace (reused, not retrained)
    stamp = (tmp_path / "runs" / "fast_crop-3d_seed0" / "metrics.json").stat().st_mtime_ns
    cli.main(["--extras", "--preset", "fast", "--seeds", "0", "--runs", str(tmp_path / "runs"),
              "--out", str(tmp_path / "reports")])
    assert (tmp_path / "runs" / "fast_crop-3d_seed0" / "metrics.json").stat().st_mtime_ns == stamp
    rows = json.loads((tmp_path / "reports" / "extras_results.json").read_text())["rows"]
    assert list(rows) == ["baseline, simulated detector box", "S similarity", "3D head, box crop (crop-3d)", "S affine",
                          "3D head, box crop, principal point at the image centre (seed 0)"]
    assert (tmp_path / "runs" / "fast_crop-3d-principal-image_seed0" / "metrics.json").exists()
    assert "| S affine | 100 |" in (tmp_path / "reports" / "extras_results.md").read_text()


def test_training_minutes_come_from_the_log(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 10, "images_per_s": 32.0}\n{"step": 30, "images_per_s": 16.0}\n')
    assert training_minutes(log, batch_size=32) == (10 * 32 / 32 + 20 * 32 / 16) / 60


@pytest.mark.slow
def test_the_deformer_table_end_to_end_and_stale_metrics_are_recomputed(tmp_path):
    runs = tmp_path / "runs"
    cli.main(["--deformer", "--preset", "fast", "--seeds", "0", "--runs", str(runs), "--out", str(tmp_path / "r")])
    rows = json.loads((tmp_path / "r" / "deformer_results.json").read_text())["rows"]
    assert "D offset error synthwflw" in rows["S + 3D head + D (full)"]
    without_d = rows["S + 3D head (s-3d)"]
    assert "canonical NME synthwflw" in without_d and "D offset error synthwflw" not in without_d
    assert len(rows) == 4 and "| synthwflw |" in (tmp_path / "r" / "deformer_results.md").read_text()
    cli.main(["--deformer-conventions", "--preset", "fast", "--seeds", "0", "--runs", str(runs), "--out", str(tmp_path / "r")])
    rows = json.loads((tmp_path / "r" / "deformer_conventions_results.json").read_text())["rows"]
    assert "asked as synthuser (adapted)" in (tmp_path / "r" / "deformer_conventions_results.md").read_text()
    scaled = rows["box crop + 3D head + D (crop-3d + D), conventions x4 (seed 0)"]
    unscaled = rows["box crop + 3D head + D (crop-3d + D) (seed 0)"]
    assert unscaled["NME synthwflw"] == json.loads((tmp_path / "r" / "deformer_results.json").read_text())["rows"][
        "box crop + 3D head + D (crop-3d + D)"]["NME synthwflw"]  # the same run, read from its cache
    assert scaled["true offset synthwflw"]["mean"] > 3.5 * unscaled["true offset synthwflw"]["mean"]
    assert json.loads((runs / "fast_crop-3d-deformer-conv4x_seed0" / "metrics.json").read_text())["convention_scale"] == 4
    adapted = rows["S + 3D head + D (full), taught synthuser (seed 0)"]
    assert {"NME synthuser asked as None", "NME synthuser asked as synthuser (adapted)",
            "D offset error relative synthuser"} <= set(adapted)
    at_x4 = rows["box crop + 3D head + D (crop-3d + D), conventions x4, taught synthuser (seed 0)"]
    assert at_x4["true offset synthuser"]["mean"] > 3.5 * adapted["true offset synthuser"]["mean"]  # taught at its scale
    assert (runs / "fast_crop-3d-deformer-conv4x_seed0_adapt-synthuser-network" / "adapt.json").exists()
    metrics = runs / "fast_s-3d_seed0" / "metrics.json"
    stale = json.loads(metrics.read_text())
    stale.pop("evaluation_version"), stale.pop("deformer")
    metrics.write_text(json.dumps(stale))
    again = run_seed("fast", 0, runs, "s-3d")
    assert "deformer" in again and json.loads(metrics.read_text())["evaluation_version"] == EVALUATION_VERSION


def test_the_realism_benchmark_picks_near_frontal_faces_and_matches_boxes():
    import importlib.util

    import torch
    spec = importlib.util.spec_from_file_location("realism", ROOT / "benchmarks" / "realism.py")
    realism = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(realism)
    faces = realism.near_frontal(12, 64, max_yaw=90.0)
    assert 0 < len(faces["image"]) <= 12 and faces["exact"].shape[1:] == (68, 2)
    assert len(realism.near_frontal(12, 64, max_yaw=0.0)["image"]) == 0
    box = torch.tensor([10.0, 10.0, 50.0, 50.0])
    found = [{"box": [0, 0, 8, 8], "score": 2.0}, {"box": [20, 20, 40, 40], "score": 0.5},
             {"box": [15, 15, 45, 45], "score": 1.0}]
    assert realism.match(found, box)["score"] == 1.0 and realism.match(found[:1], box) is None
    if not realism.REALISM_PYTHON.exists():
        with pytest.raises(SystemExit, match="make realism-peers"):
            realism.main(["--count", "4"])


def test_the_realism_breakdown_splits_faces_by_their_scene(monkeypatch):
    import numpy as np
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import realism_breakdown

    from lm3d.synth import SynthFaces
    scenes = SynthFaces("synth300w", "val", 40, image_size=64).scenes(range(40))
    iod, angles = np.linspace(20, 60, 40), np.linspace(-15, 15, 40)
    table = realism_breakdown.attributes(scenes, iod, angles, angles)
    assert all(v.shape == (40,) and v.dtype == bool for v in table.values())
    assert table["occluded"].tolist() == [s["occluder"] is not None for s in scenes]
    assert table["IOD under 36 px"].sum() == (iod < 36).sum() and table["|pitch| over 10 deg"].any()


def test_the_proxy_table_heads_the_whole_photo_part_only_when_a_model_with_s_answers_it(monkeypatch):
    """Box models need a box, so they have no whole-photo line; a heading with no line under it misled a reader."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    import lm3d
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import realism
    reference = torch.rand(68, 2) * 50
    reference[36], reference[45] = torch.tensor([10.0, 20.0]), torch.tensor([40.0, 20.0])  # an IOD of 30 px

    class Answer:  # a detector that answers dlib's points, 3 px to the right
        def __init__(self, needs_box):
            self.model = SimpleNamespace(needs_box=needs_box)

        def predict(self, image, box=None, layout=None):
            assert (box is None) != self.model.needs_box and layout == "ibug68"
            return SimpleNamespace(landmarks2d=reference + torch.tensor([3.0, 0.0]))

    monkeypatch.setattr(lm3d.Detector, "from_checkpoint", staticmethod(lambda path, device: Answer("box" in path)))
    faces = [{"dlib_points": reference.tolist(), "box": [0, 0, 50, 50], "photo": 0, "origin": [0, 0]}]
    images = photos = [np.zeros((64, 64, 3), np.uint8)]
    boxes_only = realism.proxy_table({"v5": ["box0", "box1"]}, faces, images, photos)
    assert len(boxes_only) == 2 and boxes_only[1].startswith("  v5: 10.00 +- 0.00 % over 2 model(s)")
    with_s = realism.proxy_table({"v5": ["box0"], "S": ["s0"]}, faces, images, photos)
    assert with_s[3].startswith("the same on the 1 whole photos") and with_s[4].startswith("  S (s0): median 10.00 %")
    assert len(with_s) == 5


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="renders an older revision of git history: needs git and a clone")
def test_the_realism_benchmark_trains_baselines_on_the_old_renderer(tmp_path, monkeypatch):
    """--before-baselines: the old revision's own lm3d renders its data and trains; a finished run is reused."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import realism
    import torch
    old = realism.extract_revision(realism.BEFORE, tmp_path / "before")
    [checkpoint] = realism.train_baselines(old, tmp_path / "runs", "fast", [0])
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["synth_version"] == 3 != realism.SYNTH_VERSION and saved["train_config"]["steps"] == 12
    log = (tmp_path / "runs" / "fast_seed0" / "log.jsonl").read_text()
    stamp = (tmp_path / "runs" / "fast_seed0" / "metrics.json").stat().st_mtime_ns
    assert realism.train_baselines(old, tmp_path / "runs", "fast", [0]) == [checkpoint]
    assert (tmp_path / "runs" / "fast_seed0" / "metrics.json").stat().st_mtime_ns == stamp
    assert (tmp_path / "runs" / "fast_seed0" / "log.jsonl").read_text() == log


def test_the_s_table_has_every_model_row():
    row = {"NME synth300w": {"mean": 10.0, "std": 1.0, "values": [9.0, 11.0]},
           "static jitter synth300w": {"mean": 0.5, "std": 0.1, "values": [0.4, 0.6]},
           "faces found synth300w (%)": {"mean": 40.0, "std": 2.0, "values": [38.0, 42.0]},
           "lost faces synth300w (%)": {"mean": 1.5, "std": 0.5, "values": [1.0, 2.0]}}
    one_run = {"NME synth300w": {"mean": 12.0, "std": 0.0, "values": [12.0]}}
    text = ladder_markdown({"baseline, LBP detector box": row, "S similarity": {}, "one seed": one_run},
                           "fast", [0, 1])
    assert "| baseline, LBP detector box | 40.0 ± 2.0 | 1.5 ± 0.5 | 10.00 ± 1.00" in text
    assert "| S similarity | 100 | - | - (" in text
    assert "| one seed | 100 | - | 12.00 (" in text  # a single run's value, not "12.00 ± 0.00"
    assert "Pose, camera" not in text  # no row has a 3D head


def test_the_ladder_gives_its_3d_head_rows_a_pose_table():
    posed = {"NME synth300w": {"mean": 9.0, "std": 0.0, "values": [9.0]},
             "rotation_deg synth300w": {"mean": 7.5, "std": 0.5, "values": [7.0, 8.0]}}
    text = ladder_markdown({"2D head": {"NME synth300w": {"mean": 8.0, "std": 0.0, "values": [8.0]}}, "3D head": posed},
                           "fast", [0, 1])
    pose = text[text.index("Pose, camera"):]
    assert "| 3D head | 7.50 ± 0.50 |" in pose and "| 2D head |" not in pose
    assert "hmc test faces" not in pose  # no row has hmc's pose
