"""D, the query deformer: zero start, canonical semantics exact, mostly along the surface, named datasets, the
variant ``full`` end to end, and the dataset argument of evaluation and of the Detector."""
from dataclasses import replace

import numpy as np
import pytest
import torch

import lm3d
from lm3d.evaluation import evaluate_checkpoint
from lm3d.face import layouts
from lm3d.model import ContinuousLandmarkModel, checkpoint
from lm3d.model.deformer import CANONICAL, NORMAL_FRACTION, QueryDeformer
from lm3d.model.queries import QueryEncoder
from lm3d.synth import sources
from lm3d.training import CHECKPOINT_NAME, configure, preset, train
from lm3d.vis import plots_3d

DATASETS = ("synth300w", "synthwflw", "synthmpie")


def deformer_and_points(face, randomise=True):
    deformer, encoder = QueryDeformer(DATASETS, 16), QueryEncoder(4, 16)
    if randomise:
        torch.nn.init.normal_(deformer.mlp[-1].weight, std=0.5)
    points = layouts.get("wflw98").points(face)
    return deformer, encoder, points


def test_an_untrained_deformer_moves_nothing_and_canonical_is_exact(face):
    deformer, encoder, points = deformer_and_points(face, randomise=False)
    codes = deformer.index(["synthwflw", None])
    assert codes.tolist() == [2, CANONICAL]
    assert deformer(points, encoder(points), codes).abs().max() == 0
    deformer, encoder, points = deformer_and_points(face)
    offsets = deformer(points, encoder(points), codes)
    assert offsets[0].abs().max() > 0 and offsets[1].abs().max() == 0  # dataset=None: the reference semantics


def test_offsets_are_mostly_along_the_surface(face):
    deformer, encoder, points = deformer_and_points(face)
    codes = deformer.index(["synthmpie"])
    offsets = deformer(points, encoder(points), codes)[0]
    normal = deformer.surface_normals(points)
    raw = deformer.mlp(torch.cat([encoder(points), deformer.embedding(codes).expand(len(points), -1)], -1))
    torch.testing.assert_close((offsets * normal).sum(-1), NORMAL_FRACTION * (raw * normal).sum(-1))
    tangent = raw - (raw * normal).sum(-1, keepdim=True) * normal
    torch.testing.assert_close(offsets - (offsets * normal).sum(-1, keepdim=True) * normal, tangent)


def test_unknown_datasets_are_named_with_the_known_ones(face):
    deformer, _, _ = deformer_and_points(face)
    with pytest.raises(ValueError, match="unknown dataset 'wflw'.*synth300w, synthwflw, synthmpie"):
        deformer.index(["wflw"])
    with pytest.raises(ValueError, match="distinct dataset names"):
        QueryDeformer(("a", "a"), 8)


def test_the_deformer_can_represent_the_true_conventions(face):
    """Fitted to SynthFaces' true offsets directly, D reproduces them: its form does not block the answer."""
    torch.manual_seed(0)
    deformer, encoder, _ = deformer_and_points(face, randomise=False)
    targets = {name: (layouts.get(sources.get(name).layout).points(face), sources.convention_points(name)[1])
               for name in ("synthwflw", "synthmpie")}
    optimiser = torch.optim.Adam([*deformer.parameters(), *encoder.parameters()], lr=3e-3)
    for _ in range(400):
        loss = sum(((deformer(p, encoder(p), deformer.index([n]))[0] - t) ** 2).sum(-1).mean()
                   for n, (p, t) in targets.items())
        optimiser.zero_grad(), loss.backward(), optimiser.step()
    for name, (p, t) in targets.items():
        error = (deformer(p, encoder(p), deformer.index([name]))[0] - t).norm(dim=-1).mean().item()
        assert error < 0.3 * t.norm(dim=-1).mean().item(), f"{name}: {error:.3f} cm"


# --- the variant full end to end -------------------------------------------------------------------------
TINY_FULL = replace(preset("fast", "full"), steps=6, checkpoint_every=3, log_every=2, eval_count=4,
                    negative_count=8)


@pytest.fixture(scope="module")
def trained_full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    train(TINY_FULL, out, progress=False)
    return out


def test_full_knows_its_training_sources_and_resumes_exactly(tmp_path, trained_full):
    data = checkpoint.load(trained_full / CHECKPOINT_NAME)
    assert tuple(data["model_config"]["datasets"]) == TINY_FULL.sources and data["model_config"]["deformer"]
    assert "penalty_deformer" in (trained_full / "log.jsonl").read_text()
    train(TINY_FULL, tmp_path, progress=False, stop_after=3)
    train(TINY_FULL, tmp_path, progress=False)
    resumed, straight = (checkpoint.load(p / CHECKPOINT_NAME)["model"] for p in (tmp_path, trained_full))
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    with pytest.raises(ValueError, match="must be the training sources"):
        replace(TINY_FULL, sources=("synth300w",), source_weights=(1.0,), train_counts=(8,)).validate()


def test_evaluation_adds_the_deformer_keys(trained_full):
    results = evaluate_checkpoint(trained_full / CHECKPOINT_NAME, count=4, eval_sources=("synth300w",),
                                  stability=False)
    learned = results["deformer"]["learned_vs_true_cm"]
    assert set(learned) == set(TINY_FULL.sources) and learned["synth300w"]["true_mean"] == 0
    assert learned["synthwflw"]["true_mean"] > 0 and "jaw" in learned["synthwflw"]["groups"]
    assert learned["synth300w"]["relative_mean"] == 0  # the reference, relative to itself
    assert set(results["deformer"]["canonical_nme"]) == {"synth300w", "synthwflw", "synthmpie"}
    residual = results["deformer"]["residual"]["synthwflw"]
    assert residual["along_cm"] > 0 and residual["across_cm"] >= 0
    assert all(np.isfinite(v) for v in results["deformer"]["canonical_nme"].values())


def test_the_detector_answers_in_a_datasets_convention(trained_full):
    detector = lm3d.Detector.from_checkpoint(trained_full / CHECKPOINT_NAME, device="cpu", min_face_score=0.0)
    torch.nn.init.normal_(detector.model.deformer.mlp[-1].weight, std=0.5)  # an untrained D would move nothing
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    canonical = detector.predict(image, layout="wflw98")
    wflw = detector.predict(image, layout="wflw98", dataset="synthwflw")
    assert not torch.allclose(canonical.landmarks2d, wflw.landmarks2d)
    torch.testing.assert_close(detector.predict(image, layout="wflw98", dataset=None).landmarks2d, canonical.landmarks2d)
    with pytest.raises(ValueError, match="unknown dataset 'WFLW'.*synthwflw"):
        detector.predict(image, dataset="WFLW")


def test_a_model_without_d_refuses_a_dataset():
    detector = lm3d.Detector(ContinuousLandmarkModel(preset("fast", "s-similarity").model),
                             min_face_score=0.0)
    with pytest.raises(ValueError, match="no query deformer"):
        detector.predict(np.zeros((64, 64, 3), np.uint8), dataset="synthwflw")


def test_the_offset_arrows_figure_draws_each_set(face):
    layout = layouts.get("wflw98")
    true = sources.convention_points("synthwflw")[1]
    figure = plots_3d.offset_arrows(face, layout.points(face), {"true": true, "learned": 0.5 * true})
    assert [t.name for t in figure.data] == ["face", "true (x3)", "learned (x3)", "queries"]
    assert len(figure.data[1].x) == 3 * len(layout)  # one segment (two ends and a break) per query


def test_any_variant_can_take_d_by_a_setting():
    config = configure("fast", "crop-3d", 0, {"model.deformer": True})
    assert config.model.deformer and config.model.datasets == config.sources
