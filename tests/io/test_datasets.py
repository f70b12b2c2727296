"""Dataset loaders and ``lm3d evaluate --dataset`` on small 300-W-, WFLW- and folder-style copies written here from
SynthFaces (no real dataset is downloaded or committed)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from lm3d.cli import main as lm3d_main
from lm3d.evaluation.datasets import evaluate_dataset
from lm3d.evaluation.metrics import nme_per_face
from lm3d.inference import Detector, box_from_landmarks
from lm3d.io import write_pts
from lm3d.io.datasets import LandmarkDataset, Sample, dataset_specs, load_dataset
from lm3d.model import checkpoint
from lm3d.model.landmark_model import ContinuousLandmarkModel
from lm3d.synth import SynthFaces
from lm3d.training import preset


def faces(source, count):
    batch = SynthFaces(source, "test", count, image_size=128).render(list(range(count)))
    return [(img.permute(1, 2, 0).numpy(), lm.numpy()) for img, lm in zip(batch["image"], batch["landmarks2d"])]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    for i, (image, points) in enumerate(faces("synth300w", 4)):  # 300-W: .pts beside each image, 1-based
        folder = root / "300W" / ("helen/testset" if i < 2 else "ibug")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"face_{i}.png")
        write_pts(folder / f"face_{i}.pts", points)
    wflw = root / "WFLW"
    lines = []
    for i, (image, points) in enumerate(faces("synthwflw", 3)):  # WFLW: one list, 0-based pixels
        (wflw / "WFLW_images" / "set").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(wflw / "WFLW_images" / "set" / f"{i}.jpg", quality=95)
        zero_based = points - 0.5
        box = [*zero_based.min(0), *zero_based.max(0)]
        flags = [i % 2, 0, 0, 0, 1, 0]
        lines.append(" ".join(f"{v:.4f}" for v in [*zero_based.reshape(-1), *box]) + " " + " ".join(map(str, flags))
                     + f" set/{i}.jpg")
    annotations = wflw / dataset_specs()["wflw"]["annotations"]
    annotations.parent.mkdir(parents=True)
    annotations.write_text("\n".join(lines) + "\n")
    mine = root / "mine"
    mine.mkdir()
    rows = ["image," + ",".join(f"x{k},y{k}" for k in range(1, 6))]
    for i, (image, points) in enumerate(faces("synth300w", 2)):  # a folder with a CSV (the loader's test: any 5 points)
        Image.fromarray(image).save(mine / f"{i}.png")
        rows.append(f"{i}.png," + ",".join(f"{v:.3f}" for v in points[:5].reshape(-1)))
    (mine / "landmarks.csv").write_text("\n".join(rows) + "\n")
    return root


def test_the_loaders_read_what_was_written(roots):
    data = load_dataset("300w", roots / "300W")
    written = faces("synth300w", 4)
    assert len(data) == 4 and data.layout == "ibug68"
    np.testing.assert_allclose(data.samples[0].landmarks, written[0][1], atol=2e-3)  # .pts 1-based, read back
    assert [len(data.subset(s)) for s in ("common", "challenging")] == [2, 2]
    wflw = load_dataset("wflw", roots / "WFLW")
    np.testing.assert_allclose(wflw.samples[1].landmarks, faces("synthwflw", 3)[1][1], atol=2e-3)
    assert wflw.samples[1].subsets == ("pose", "occlusion") and len(wflw.samples[1].box) == 4
    mine = load_dataset("folder", roots / "mine", layout="five")
    assert len(mine) == 2 and mine.samples[0].landmarks.shape == (5, 2)


def test_bad_datasets_are_refused_by_name(roots, tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'aflw'"):
        load_dataset("aflw", roots)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("300w", tmp_path / "nothing")
    with pytest.raises(ValueError, match="no layout of its own"):
        load_dataset("folder", roots / "mine")
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(broken / "a.png")
    (broken / "a.pts").write_text("version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n")
    with pytest.raises(ValueError, match="holds 2 points, expected 68"):
        load_dataset("300w", broken)
    (broken / "a.pts").unlink()
    (broken / "b.pts").write_text("version: 1\nn_points: 1\n{\n1 2\n}\n")
    with pytest.raises(FileNotFoundError, match="no image beside it"):
        load_dataset("folder", broken, layout="ibug68")
    line = (roots / "WFLW" / dataset_specs()["wflw"]["annotations"]).read_text().splitlines()[0]
    (tmp_path / "list.txt").write_text(line.rsplit(" ", 3)[0] + "\n")
    with pytest.raises(ValueError, match="line 1: expected 207 fields"):
        load_dataset("wflw", roots / "WFLW", annotations=tmp_path / "list.txt")


@pytest.fixture(scope="module")
def detectors(untrained):
    return {variant: Detector(untrained(variant), min_face_score=0.0) for variant in ("baseline", "s-similarity")}


def test_evaluate_dataset_scores_every_face_as_computed_by_hand(roots, detectors):
    data = load_dataset("300w", roots / "300W")
    for variant, detector in detectors.items():
        report = evaluate_dataset(detector, data, progress=False)
        sample = data.samples[3]
        box = box_from_landmarks(sample.landmarks) if variant == "baseline" else None
        predicted = detector.predict(str(sample.image), box=box, layout="ibug68").landmarks2d
        truth = torch.as_tensor(sample.landmarks, dtype=torch.float32)
        iod = (truth[36] - truth[45]).norm()
        assert report["per_face"][3]["nme"] == pytest.approx(nme_per_face(predicted[None], truth[None], iod[None]).item())
        assert report["faces"] == 4 and set(report["subsets"]) == {"common", "challenging"}
        assert report["nme"] == pytest.approx(np.mean([f["nme"] for f in report["per_face"]]))
    wflw = evaluate_dataset(detectors["baseline"], load_dataset("wflw", roots / "WFLW"), progress=False)
    assert wflw["faces"] == 3 and wflw["subsets"]["occlusion"]["faces"] == 3  # WFLW's own boxes are used


def test_lm3d_evaluate_dataset_writes_scores_and_a_ced_plot(roots, detectors, tmp_path, capsys):
    model = detectors["s-similarity"].model
    path = tmp_path / "model" / "checkpoint.pt"
    checkpoint.save(path, {"kind": "detector", "model_config": model.config.to_dict(), "model": model.state_dict()})
    code = lm3d_main(["evaluate", "--checkpoint", str(path), "--dataset", "300w", "--root", str(roots / "300W"),
                      "--out", str(tmp_path / "E.json"), "--ced", str(tmp_path / "ced.png"), "--quiet"])
    assert code == 0
    report = json.loads((tmp_path / "E.json").read_text())
    assert {"nme", "fr@10", "auc@10", "faces", "faces_not_found", "subsets", "per_face", "ced"} <= set(report)
    assert Image.open(tmp_path / "ced.png").size[0] > 100
    assert lm3d_main(["evaluate", "--checkpoint", str(path), "--dataset", "300w", "--root", str(tmp_path / "none"),
                      "--out", str(tmp_path / "F.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_lm3d_evaluate_dataset_answers_in_a_named_convention(roots, untrained, tmp_path, capsys):
    model = untrained("full")
    torch.manual_seed(1)  # D's offsets start at zero: move them so that a convention differs from the canonical points
    with torch.no_grad():
        for parameter in model.deformer.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        model.spatial_transformer.localiser.face.bias.fill_(10.0)  # an untrained face score hovers at 0.5: say 'a face'
    path = tmp_path / "full" / "checkpoint.pt"
    checkpoint.save(path, {"kind": "detector", "model_config": model.config.to_dict(), "model": model.state_dict()})
    convention = model.deformer.datasets[1]
    reports = {}
    for name in (None, convention):
        out = tmp_path / f"{name}.json"
        argv = ["evaluate", "--checkpoint", str(path), "--dataset", "300w", "--root", str(roots / "300W"), "--out", str(out),
                "--quiet"] + ([] if name is None else ["--convention", name])
        assert lm3d_main(argv) == 0
        reports[name] = json.loads(out.read_text())
    assert reports[convention]["convention"] == convention and reports[None]["convention"] is None
    detector = Detector.from_checkpoint(path)
    sample = load_dataset("300w", roots / "300W").samples[0]
    truth = torch.as_tensor(sample.landmarks, dtype=torch.float32)
    predicted = detector.predict(str(sample.image), layout="ibug68", dataset=convention).landmarks2d
    expected = nme_per_face(predicted[None], truth[None], (truth[36] - truth[45]).norm()[None]).item()
    assert reports[convention]["per_face"][0]["nme"] == pytest.approx(expected)
    assert reports[convention]["per_face"][0]["nme"] != pytest.approx(reports[None]["per_face"][0]["nme"])
    argv = ["evaluate", "--checkpoint", str(path), "--dataset", "300w", "--root", str(roots / "300W"),
            "--out", str(tmp_path / "bad.json"), "--convention", "nosuchdataset", "--quiet"]
    assert lm3d_main(argv) == 2 and not (tmp_path / "bad.json").exists()
    assert "unknown dataset 'nosuchdataset'" in capsys.readouterr().err


def test_face_frames_centre_each_face_at_the_training_size(roots, tmp_path):
    from lm3d.io.datasets import FACE_FRACTION, face_frames

    data = load_dataset("300w", roots / "300W")
    frames = face_frames(data, 96)
    assert frames["image"].shape == (4, 3, 96, 96) and frames["image"].dtype == torch.uint8
    box = frames["bbox"][0]
    assert float((box[2:] - box[:2]).max()) == pytest.approx(FACE_FRACTION * 96, rel=1e-4)
    assert torch.allclose((box[:2] + box[2:]) / 2, torch.tensor([48.0, 48.0]), atol=1e-3)
    # the frame's landmarks sit on the same picture: a bright dot at landmark 30 of a photo lands at its mapped point
    shape = data.samples[0].landmarks
    photo = np.zeros((160, 200, 3), np.uint8)
    photo[79:82, 119:122] = 255  # a dot centred on pixel (row 80, column 120): lm3d point (120.5, 80.5)
    Image.fromarray(photo).save(tmp_path / "dot.png")
    moved = shape - shape[30] + np.array([120.5, 80.5])
    dot = LandmarkDataset("dot", "ibug68", [Sample(tmp_path / "dot.png", moved)])
    framed = face_frames(dot, 96)
    light = framed["image"][0].float().mean(0).numpy()
    rows, columns = np.mgrid[0:96, 0:96] + 0.5  # pixel centres
    centre = ((light * columns).sum() / light.sum(), (light * rows).sum() / light.sum())
    assert np.hypot(*(np.array(centre) - framed["landmarks2d"][0, 30].numpy())) < 0.5
    assert framed["iod"][0] > 0


def test_lm3d_adapt_learns_a_code_from_a_dataset_folder(roots, tmp_path):
    torch.manual_seed(0)
    config = preset("fast", "full")
    model = ContinuousLandmarkModel(config.model)
    path = tmp_path / "full" / "checkpoint.pt"
    checkpoint.save(path, {"kind": "detector", "model_config": config.model.to_dict(), "train_config": config.to_dict(),
                           "model": model.state_dict()})
    with pytest.raises(SystemExit):  # exactly one source of faces
        lm3d_main(["adapt", "--checkpoint", str(path), "--dataset", "mine", "--out", str(tmp_path / "a")])
    code = lm3d_main(["adapt", "--checkpoint", str(path), "--dataset", "mine", "--root", str(roots / "300W"),
                      "--format", "300w", "--steps", "3", "--holdout", "0.5", "--out", str(tmp_path / "adapted")])
    assert code == 0
    report = json.loads((tmp_path / "adapted" / "adapt.json").read_text())
    assert report["steps"] == 3 and report["train_faces"] == 2 and np.isfinite(report["nme_after"])
    assert "mine" in Detector.from_checkpoint(tmp_path / "adapted" / "checkpoint.pt", device="cpu").model.deformer.datasets
