"""``lm3d detect`` end to end on a model with S and a 3D head (untrained: the command's plumbing is under test, not
the model), on photos, a folder with bad files, and a video made here."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from test_pts_and_media import write_video

from lm3d.cli import main as lm3d_main
from lm3d.face import layouts
from lm3d.inference import Detector
from lm3d.io import read_pts, video_frames
from lm3d.model import checkpoint
from lm3d.model.landmark_model import ContinuousLandmarkModel
from lm3d.training import preset


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    config = preset("fast", "s-3d").model
    model = ContinuousLandmarkModel(config)
    path = tmp_path_factory.mktemp("model") / "checkpoint.pt"
    checkpoint.save(path, {"kind": "detector", "model_config": config.to_dict(), "model": model.state_dict()})
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    (root / "photos" / "more").mkdir(parents=True)
    astronaut = skimage.data.astronaut()
    Image.fromarray(astronaut).save(root / "photos" / "astronaut.jpg")
    Image.fromarray(astronaut[::2, ::2, 1].astype(np.uint16) * 257).save(root / "photos" / "more" / "gray16.png")
    Image.fromarray(np.dstack([astronaut[::4, ::4], np.full((128, 128), 200, np.uint8)])).save(root / "photos" / "rgba.png")
    (root / "photos" / "more" / "cut.jpg").write_bytes((root / "photos" / "astronaut.jpg").read_bytes()[:2000])
    small = np.asarray(Image.fromarray(astronaut).resize((128, 128)))
    write_video(root / "clip.mp4", [np.roll(small, 3 * i, axis=1) for i in range(10)])
    return root


def detect(*args) -> int:
    return lm3d_main(["detect", *map(str, args), "--quiet"])


def test_detect_writes_records_that_match_the_detector_and_read_back(model_file, inputs, tmp_path):
    out = tmp_path / "out"
    code = detect(inputs / "photos", inputs / "clip.mp4", "--checkpoint", model_file, "--out", out, "--layout", "ibug68",
                  "five", "--format", "jsonl", "csv", "pts", "--overlay", "--batch-size", "4", "--min-face-score", "0")
    assert code == 1  # the truncated JPEG fails; the rest of the folder is answered
    failures = json.loads((out / "failures.json").read_text())
    assert [f["source"].endswith("cut.jpg") for f in failures] == [True] and "truncated" in failures[0]["reason"]
    records = [json.loads(line) for line in (out / "landmarks.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == [None, None, None] + list(range(10))
    assert [r["source"].rsplit("/", 1)[-1] for r in records[:3]] == ["astronaut.jpg", "gray16.png", "rgba.png"]
    detector = Detector.from_checkpoint(model_file, device="cpu", min_face_score=0.0)
    ibug, five = layouts.get("ibug68"), layouts.get("five")
    queries = (torch.cat([ibug.triangle, five.triangle]), torch.cat([ibug.barycentric, five.barycentric]))
    expected = detector.predict(inputs / "photos" / "astronaut.jpg", queries=queries)
    first = records[0]
    np.testing.assert_allclose(first["points"]["ibug68"]["landmarks2d"], expected.landmarks2d[:68], atol=2e-3)
    np.testing.assert_allclose(first["points"]["five"]["landmarks2d"], expected.landmarks2d[68:], atol=2e-3)
    assert first["points"]["five"]["visible"] == expected.visible[68:].tolist()
    assert first["pose"]["yaw"] == pytest.approx(float(expected.euler["yaw"]), abs=0.01)
    assert set(first["intrinsics"]) == {"fx", "fy", "cx", "cy"} and len(first["roi"]) == 4
    assert first["points"]["ibug68"]["names"] == list(ibug.names)
    # the video's frames were answered in batches of 4: the same as one by one
    info, frames = video_frames(inputs / "clip.mp4")
    third = detector.predict(list(frames)[2], queries=queries)
    np.testing.assert_allclose(records[5]["points"]["ibug68"]["landmarks2d"], third.landmarks2d[:68], atol=2e-3)
    with open(out / "landmarks.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records) * (68 + 5) and rows[0]["name"] == "jaw_1"
    assert float(rows[0]["x"]) == pytest.approx(first["points"]["ibug68"]["landmarks2d"][0][0])
    np.testing.assert_allclose(read_pts(out / "pts" / "photos" / "astronaut.ibug68.pts", 68),
                               first["points"]["ibug68"]["landmarks2d"], atol=2e-3)
    assert (out / "pts" / "clip" / "frame_000009.five.pts").exists()
    assert Image.open(out / "overlays" / "photos" / "astronaut.png").size == (512, 512)
    overlay_info, overlay_frames = video_frames(out / "overlays" / "clip.mp4")
    assert overlay_info["size"] == (128, 128) and len(list(overlay_frames)) == 10


def test_an_interrupted_run_resumes_to_the_same_outputs(model_file, inputs, tmp_path):
    args = ["--checkpoint", model_file, "--layout", "ibug68", "--batch-size", "3", "--min-face-score", "0"]
    detect(inputs / "photos", inputs / "clip.mp4", "--out", tmp_path / "clean", *args)
    resumed = tmp_path / "resumed"
    detect(inputs / "photos", inputs / "clip.mp4", "--out", resumed, *args)
    # as if killed mid-way: the last image's record, one video chunk, its end marker and the outputs are gone
    (resumed / "records" / "photos" / "rgba.json").unlink()
    (resumed / "records" / "clip" / "chunk_000002.jsonl").unlink()
    (resumed / "records" / "clip" / "done.json").unlink()
    (resumed / "landmarks.jsonl").unlink()
    assert detect(inputs / "photos", inputs / "clip.mp4", "--out", resumed, *args) == 1  # cut.jpg still fails
    assert (resumed / "landmarks.jsonl").read_text() == (tmp_path / "clean" / "landmarks.jsonl").read_text()
    assert (resumed / "landmarks.csv").read_text() == (tmp_path / "clean" / "landmarks.csv").read_text()
    assert not list(resumed.rglob(".*.tmp"))
    # the same folder with other settings is refused before anything is written
    assert detect(inputs / "photos", "--out", resumed, *args[:-1], "0.9") == 2


def test_no_face_and_bad_requests_give_clear_messages_and_exit_codes(model_file, inputs, tmp_path, capsys):
    photo = inputs / "photos" / "astronaut.jpg"
    assert detect(photo, "--checkpoint", model_file, "--out", tmp_path / "none", "--min-face-score", "1") == 1
    record = json.loads((tmp_path / "none" / "landmarks.jsonl").read_text())
    assert not record["face_found"] and "no face found" in record["message"]
    assert record["points"]["ibug68"]["landmarks2d"] is None and record["pose"] is None
    assert "no face found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for extra, message in ((["--layout", "ibug69"], "unknown layout 'ibug69'"), (["--queries", bad], "corrupt"),
                           (["--batch-size", "0"], "at least 1")):
        assert detect(photo, "--checkpoint", model_file, "--out", tmp_path / "x", *extra) == 2
        assert message in capsys.readouterr().err
    assert detect(tmp_path / "missing.png", "--checkpoint", model_file, "--out", tmp_path / "x") == 2
    assert "does not exist" in capsys.readouterr().err
    assert detect(photo, "--checkpoint", photo, "--out", tmp_path / "x") == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert detect(empty, "--checkpoint", model_file, "--out", tmp_path / "v") == 1
    assert "cannot read video file" in json.loads((tmp_path / "v" / "failures.json").read_text())[0]["reason"]


def test_the_queries_of_the_picker_are_answered_by_name(model_file, inputs, tmp_path):
    mine = layouts.custom("cheeks", [0, 1], [[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]], ["left", "right"])
    path = layouts.save(mine, tmp_path / "cheeks.json")
    assert detect(inputs / "photos" / "rgba.png", "--checkpoint", model_file, "--out", tmp_path / "o", "--queries", path,
                  "--min-face-score", "0") == 0
    record = json.loads((tmp_path / "o" / "landmarks.jsonl").read_text())
    assert list(record["points"]) == ["cheeks"] and record["points"]["cheeks"]["names"] == ["left", "right"]


def test_the_lm3d_command_and_python_m_lm3d(tmp_path):
    run = subprocess.run([sys.executable, "-m", "lm3d", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "detect" in run.stdout and "reproduce" in run.stdout
    run = subprocess.run([sys.executable, "-m", "lm3d", "fly"], capture_output=True, text=True)
    assert run.returncode == 2 and "unknown command 'fly'" in run.stderr
    run = subprocess.run([sys.executable, "-m", "lm3d", "detect", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "lm3d detect" in run.stdout and "--overlay" in run.stdout


def test_videos_can_follow_the_face_and_be_smoothed_and_resume_exactly(model_file, inputs, tmp_path):
    from lm3d.io.records import crop_from_roi, smooth_records

    args = [inputs / "clip.mp4", "--checkpoint", model_file, "--batch-size", "4", "--min-face-score", "0", "--follow"]
    assert detect(*args, "--out", tmp_path / "raw") == 0
    raw = [json.loads(line) for line in (tmp_path / "raw" / "landmarks.jsonl").read_text().splitlines()]
    detector = Detector.from_checkpoint(model_file, device="cpu", min_face_score=0.0)
    frames = list(video_frames(inputs / "clip.mp4")[1])
    ibug = layouts.get("ibug68")
    following = detector.predict(frames[5], queries=(ibug.triangle, ibug.barycentric), start_crop=crop_from_roi(raw[4]["roi"]))
    np.testing.assert_allclose(raw[5]["points"]["ibug68"]["landmarks2d"], following.landmarks2d, atol=2e-3)
    assert detect(*args, "--out", tmp_path / "steady", "--smooth") == 0
    steady = [json.loads(line) for line in (tmp_path / "steady" / "landmarks.jsonl").read_text().splitlines()]
    assert steady == smooth_records(raw, 10.0) and steady[3] != raw[3]  # the clip is 10 frames/s
    (tmp_path / "steady" / "records" / "clip" / "chunk_000001.jsonl").unlink()  # killed mid-video, then resumed
    (tmp_path / "steady" / "records" / "clip" / "chunk_000002.jsonl").unlink()
    (tmp_path / "steady" / "records" / "clip" / "done.json").unlink()
    assert detect(*args, "--out", tmp_path / "steady", "--smooth") == 0
    assert [json.loads(line) for line in (tmp_path / "steady" / "landmarks.jsonl").read_text().splitlines()] == steady


def test_follow_needs_a_model_with_s(inputs, tmp_path, capsys):
    torch.manual_seed(0)
    config = preset("fast", "baseline").model
    path = tmp_path / "box.pt"
    checkpoint.save(path, {"kind": "detector", "model_config": config.to_dict(),
                           "model": ContinuousLandmarkModel(config).state_dict()})
    assert detect(inputs / "clip.mp4", "--checkpoint", path, "--out", tmp_path / "o", "--follow") == 2
    assert "needs a model with S" in capsys.readouterr().err
