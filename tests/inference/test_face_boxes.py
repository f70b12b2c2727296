"""Face boxes for box models (simulated, LBP, a peer's file) and the peers' NMS stand-in."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from lm3d.inference import BOX_SEED, face_boxes
from lm3d.model import crop

ROOT = Path(__file__).resolve().parents[2]


def test_simulated_boxes_are_the_fixed_jitter_of_the_truth():
    truth = torch.tensor([[10.0, 10.0, 50.0, 60.0]]).repeat(5, 1)
    boxes, found = face_boxes("simulated", torch.zeros(5, 3, 64, 64, dtype=torch.uint8), truth)
    torch.testing.assert_close(boxes, crop.jitter_boxes(truth, torch.Generator().manual_seed(BOX_SEED)))
    assert found.all()


def test_boxes_from_a_file_and_the_faces_it_missed(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"format": "lm3d.face_boxes/1", "boxes": {"synth300w/test": [[1, 2, 30, 40], None]}}))
    boxes, found = face_boxes(f"file:{path}", torch.zeros(2, 3, 64, 64, dtype=torch.uint8), torch.zeros(2, 4),
                              key="synth300w/test")
    assert found.tolist() == [True, False] and boxes[0].tolist() == [1, 2, 30, 40]
    with pytest.raises(ValueError, match="holds no 3 boxes"):
        face_boxes(f"file:{path}", torch.zeros(3, 3, 64, 64, dtype=torch.uint8), torch.zeros(3, 4), key="synth300w/test")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not a face box file"):
        face_boxes(f"file:{tmp_path / 'other.json'}", torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 4), key="x")
    with pytest.raises(ValueError, match="unknown face boxes"):
        face_boxes("yolo", torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 4))


def test_the_lbp_cascade_finds_nothing_in_a_blank_image():
    boxes, found = face_boxes("lbp", torch.full((1, 3, 64, 64), 128, dtype=torch.uint8), torch.zeros(1, 4))
    assert found.tolist() == [False] and boxes.shape == (1, 4)


def _standin():
    path = ROOT / "benchmarks" / "peers" / "torchvision_standin" / "torchvision" / "ops" / "boxes.py"
    spec = importlib.util.spec_from_file_location("standin_boxes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_nms_stand_in_keeps_what_greedy_nms_keeps():
    ops = _standin()
    generator = torch.Generator().manual_seed(0)
    corner = torch.rand(60, 2, generator=generator) * 50
    boxes = torch.cat([corner, corner + 5 + torch.rand(60, 2, generator=generator) * 20], 1)
    scores = torch.rand(60, generator=generator)
    kept = ops.nms(boxes, scores, 0.4).tolist()
    # brute force: walk by score, keep a box unless it overlaps a kept one by more than the threshold
    reference = []
    for i in scores.argsort(descending=True).tolist():
        if all(ops.box_iou(boxes[i:i + 1], boxes[j:j + 1]).item() <= 0.4 for j in reference):
            reference.append(i)
    assert kept == reference
    categories = torch.arange(60) % 2
    per_category = ops.batched_nms(boxes, scores, categories, 0.4).tolist()
    for c in (0, 1):
        chosen = (categories == c).nonzero()[:, 0]
        expected = chosen[ops.nms(boxes[chosen], scores[chosen], 0.4)].tolist()
        assert [i for i in per_category if categories[i] == c] == expected


def test_box_from_landmarks_matches_the_training_boxes():
    from lm3d.inference.face_boxes import box_from_landmarks
    from lm3d.synth import SynthFaces

    faces = SynthFaces("synth300w", "train", 60, image_size=256).render(list(range(60)))

    def iou(a, b):
        inter = (torch.minimum(a[2:], b[2:]) - torch.maximum(a[:2], b[:2])).clamp_min(0).prod()
        return inter / ((a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter)

    ours = torch.stack([iou(box_from_landmarks(p), b) for p, b in zip(faces["landmarks2d"], faces["bbox"])])
    tight = torch.stack([iou(torch.cat([p.min(0).values, p.max(0).values]), b)
                         for p, b in zip(faces["landmarks2d"], faces["bbox"])])
    assert ours.median() > 0.88 and ours.median() > tight.median() + 0.05  # the forehead is found, not cut off
    some = faces["landmarks2d"][0].clone()
    some[:20] = float("nan")  # annotated points only
    assert torch.isfinite(box_from_landmarks(some)).all()
    with pytest.raises(ValueError, match="68 points"):
        box_from_landmarks(torch.zeros(5, 2))
