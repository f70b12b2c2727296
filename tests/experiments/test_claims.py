"""The claims' verdicts: read from the rows' numbers, paired bootstrap intervals over faces, flags within the spread."""
import numpy as np
import pytest

from lm3d.experiments import claims
from lm3d.experiments.claims import BOX, CLAIMS, CROP_3D, FULL, PRIORS, S_3D, Comparison, S, judge


def evaluation(nme: np.ndarray, static_jitter: float = 1.0, rotation: float | None = None) -> dict:
    """A minimal evaluation as lm3d.evaluation.report writes it, with per-face NMEs on synth300w."""
    heldout = {"heldout": {"nme": 1.0}, "ibug68": {"nme": 1.0}, "ratio": 1.0}
    result = {"sources": {"synth300w": {"all": {"nme": float(nme.mean()), "fr@10": 0.0, "auc@10": 0.5,
                                                "nme_per_face": nme.tolist()}}},
              "heldout": heldout, "stability": {"synth300w": {"static_jitter": static_jitter}}}
    if rotation is not None:
        result["pose"] = {"synth300w": {"rotation_deg": rotation}}
    return result


def seeds(base: np.ndarray, shift: float, jitters=(1.0, 1.0, 1.0), rotation=None) -> list[dict]:
    return [evaluation(base + shift + 0.01 * k, jitter, rotation) for k, jitter in enumerate(jitters)]


def by_claim(records: list[dict]) -> dict:
    return {record["claim"]: record for record in records}


def test_a_clear_gain_is_reproduced_and_a_change_within_the_spread_is_flagged():
    faces = np.random.default_rng(0).gamma(2.0, 3.0, size=200)
    results = {BOX: seeds(faces, 0.0, jitters=(1.0, 1.2, 0.8)),
               CROP_3D: seeds(faces, -1.0, jitters=(0.9, 1.3, 0.7), rotation=8.0),
               S: seeds(faces, 2.0), S_3D: seeds(faces, 1.0, rotation=9.0), PRIORS: [evaluation(faces + 5, rotation=40.0)]}
    records = by_claim(judge(results))
    nme = records["The 3D head improves NME"]
    assert nme["verdict"] == "reproduced" and not nme["within_seed_spread"]
    assert [c["outcome"] for c in nme["comparisons"]] == ["helps", "helps"]
    low, high = nme["comparisons"][0]["bootstrap_95"]
    assert low <= -1.0 <= high and high < 0  # paired faces: a constant shift of -1 has a tight interval
    stability = records["The 3D head improves stability"]
    assert stability["within_seed_spread"] and stability["comparisons"][0]["outcome"] == "no clear change"
    assert records["D improves multi-dataset training"]["verdict"] == "not measured"  # no full or D rows
    pose = records[next(c.claim for c in CLAIMS if c.claim.startswith("Pose"))]
    assert pose["verdict"] == "reproduced" and pose["comparisons"][0]["reference"] == PRIORS
    assert pose["comparisons"][0]["bootstrap_95"] is None  # not an NME: no per-face values


def test_a_loss_is_not_reproduced_and_opposite_outcomes_are_mixed():
    faces = np.linspace(1.0, 20.0, 100)
    results = {BOX: seeds(faces, 0.0), FULL: seeds(faces, 3.0)}
    for source in ("synthwflw", "synthmpie", "hmc"):
        for run in results[BOX] + results[FULL]:
            run["sources"][source] = {"all": {"nme": 5.0, "fr@10": 0.0, "auc@10": 0.5}}
    for k, run in enumerate(results[FULL]):
        run["sources"]["hmc"]["all"]["nme"] = 2.0 + 0.01 * k  # the combination is better on hmc only
    record = by_claim(judge(results))["The combination beats the baseline on in-the-wild, studio and helmet-camera faces"]
    outcomes = [c["outcome"] for c in record["comparisons"]]
    assert outcomes == ["hurts", "no clear change", "no clear change", "helps"] and record["verdict"] == "mixed"
    assert record["comparisons"][1]["bootstrap_95"] is None  # synthwflw has no per-face values here


def test_the_bootstrap_needs_the_same_faces_and_the_same_measure():
    faces = np.arange(10.0)
    results = {"a": [evaluation(faces)], "b": [evaluation(np.arange(12.0))], "c": [evaluation(faces + 1)]}
    assert claims.bootstrap_change(Comparison("a", "b", "NME synth300w"), results) is None
    assert claims.bootstrap_change(Comparison("a", "c", "NME synth300w", "NME synthwflw"), results) is None
    assert claims.bootstrap_change(Comparison("a", "c", "NME synth300w"), results) == pytest.approx([-1.0, -1.0])


def test_the_markdown_argues_every_verdict_from_its_numbers():
    faces = np.linspace(1.0, 20.0, 50)
    records = judge({BOX: seeds(faces, 0.0), CROP_3D: seeds(faces, -1.0)})
    text = claims.claims_markdown(records, "fast", [0, 1, 2])
    assert "| The 3D head improves NME | **reproduced** |" in text
    assert "**The 3D head improves NME: reproduced.** 3D head, box crop (crop-3d) against baseline" in text
    assert "a change of -1.00" in text and "not measured" in text


def test_the_rule_and_the_saved_claims(tmp_path):
    assert claims.judge_change(-1.0, 0.4) == "helps" and claims.judge_change(1.0, 0.4) == "hurts"
    assert claims.judge_change(-0.8, 0.4) == "no clear change"  # exactly twice the spread is not enough
    assert claims.judge_change(1.0, 0.4, higher_is_better=True) == "helps"
    assert claims.load_claims(tmp_path, "standard") is None
    (tmp_path / "claims.json").write_text('{"preset": "fast", "seeds": [0], "rows": [{"claim": "x"}]}')
    assert claims.load_claims(tmp_path, "standard") is None and claims.load_claims(tmp_path, "fast")["rows"] == [{"claim": "x"}]


def test_seed_by_seed_wins():
    assert claims.seeds_better([1.0, 2.0, 3.0], [2.0, 1.0, 4.0]) == [2, 3]
    assert claims.seeds_better([5.0, 9.0], [7.0]) == [1, 2]  # every seed against one reference run
    assert claims.seeds_better([5.0, 9.0], [7.0], higher_is_better=True) == [1, 2]
    assert claims.seeds_better([5.0], [7.0]) is None and claims.seeds_better([1.0, 2.0], [1.0, 2.0, 3.0]) is None
