import importlib.util
import json
from pathlib import Path

import pytest
import torch

from lm3d.evaluation.applications import dense_errors, evaluate_applications, mean_scores, psnr
from lm3d.training import preset
from lm3d.training.loop import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_the_truth_has_no_dense_error_and_the_template_has_some(face):
    generator = torch.Generator().manual_seed(0)
    truth = face.vertices + 0.3 * torch.randn(3, *face.vertices.shape, generator=generator)  # three "true" faces
    iod = (truth[:, 33] - truth[:, 263]).norm(dim=-1)
    exact = dense_errors(truth, truth, iod)
    assert exact["nme3d"] < 1e-4 and exact["template_nme3d"] > 1.0 and exact["beats_template"] == 100.0
    # a similarity (turned, scaled, moved) copy of the truth is the same shape: Procrustes removes it
    turn = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.3, 0.1], [0.3, 0.0, -0.2], [-0.1, 0.2, 0.0]]))
    assert dense_errors(1.7 * truth @ turn.T + 4.0, truth, iod)["nme3d"] < 1e-3
    template = dense_errors(face.vertices.expand_as(truth), truth, iod)
    assert template["nme3d"] == pytest.approx(template["template_nme3d"]) and template["beats_template"] == 0.0


def test_psnr_of_a_known_error():
    truth = torch.full((8, 8, 3), 0.5)
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[:4] = True
    off = truth.clone()
    off[region] += 0.1  # RMSE 0.1 in the region: 20 dB
    off[~region] = 0.0  # outside the region: not counted
    assert psnr(off, truth, region) == pytest.approx(20.0, abs=1e-4)
    assert psnr(off, truth, torch.zeros_like(region)) is None
    rows = [{"observed_psnr": 20.0, "filled_psnr": None}, {"observed_psnr": 30.0, "filled_psnr": 10.0}]
    assert mean_scores(rows) == {"observed_psnr": 25.0, "filled_psnr": 10.0, "faces_without_observed": 0,
                                 "faces_without_filled": 1}


@pytest.fixture(scope="module")
def smoke(untrained):
    return evaluate_applications(untrained("s-3d"), "synth300w", count=4, image_size=64, clips=1, frames=2,
                                 texture_size=32)


def test_an_untrained_head_answers_the_template_and_samples_worse_than_the_truth(smoke):
    """An untrained 3D head's dense face is the template itself, so its dense NME is exactly the floor; the true
    geometry (the oracle) samples the texture closer to the truth than its guess of a frontal face at the centre."""
    assert smoke["faces"] == 4 and smoke["found_percent"] == 100.0
    assert smoke["dense"]["nme3d"] == pytest.approx(smoke["dense"]["template_nme3d"], rel=1e-5)
    single = smoke["texture"]["single"]
    assert single["oracle"]["observed_psnr"] > single["model"]["observed_psnr"] + 3
    clips = smoke["texture"]["clips"]
    assert clips["oracle"]["fused"]["observed_percent"] >= clips["oracle"]["single"]["observed_percent"]
    for who in ("model", "oracle"):
        shares = single[who]
        assert shares["observed_percent"] + shares["filled_percent"] + shares["unknown_percent"] == pytest.approx(100)


def test_a_model_without_a_3d_head_is_refused(untrained):
    with pytest.raises(ValueError, match="need a model with a 3D head"):
        evaluate_applications(untrained("baseline"), "synth300w", count=2, image_size=64)


def test_the_benchmark_prints_tables_and_writes_json(untrained, tmp_path, capsys):
    save_checkpoint(tmp_path / "checkpoint.pt", untrained("crop-3d"), preset("fast", "crop-3d"))
    spec = importlib.util.spec_from_file_location("applications_benchmark", ROOT / "benchmarks" / "applications.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    result = benchmark.main(["--checkpoint", str(tmp_path / "checkpoint.pt"), "--count", "3", "--clips", "1",
                             "--frames", "2", "--texture-size", "32", "--out", str(tmp_path / "out.json")])
    printed = capsys.readouterr().out
    assert "| synth300w, 3 faces |" in printed and "| clip, 2 frames fused | oracle |" in printed
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["dense"]["template_nme3d"] == pytest.approx(result["dense"]["template_nme3d"])
    assert written["image_size"] == 64 and len(written["dense"]["nme3d_per_face"]) == 3
