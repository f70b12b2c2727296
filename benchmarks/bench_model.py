"""Model speed: training images/s, batched inference images/s, single-image latency; S against a detector.

    .venv/bin/python benchmarks/bench_model.py                    # the standard preset's model, CPU (+ CUDA)
    .venv/bin/python benchmarks/bench_model.py --preset paper

A table times ``Detector.predict`` on one image, the user's whole path (array in; landmarks, and for a 3D head
the pose, camera, 3D points and visibility out), for the 2D and 3D heads on the box crop and on S, side by
side in one run. The last table times one image end to end at 256 and 1024 px (a SynthFaces face, upscaled): the S variant
(S looks at a small copy, then crops from the full image) beside the baseline behind scikit-image's LBP
face detector (which scans the whole image at every scale). Untrained weights: speed does not depend on them.

Inputs are random uint8 images at the preset's image size with 68 queries; data loading is not
timed (training reads an in-memory pool). All figures of one device come from the same run, so
their ratios are meaningful even on a busy machine; absolute numbers are not.
"""
from __future__ import annotations

import argparse

import torch

from lm3d.model import ContinuousLandmarkModel
from lm3d.runtime import seconds_per_call
from lm3d.training import preset
from lm3d.training.objective import landmark_loss


def _timed(fn, repeats: int, device) -> float:
    fn()  # warm-up
    return seconds_per_call(fn, device, repeats)


def measure(config, device: torch.device, batch: int, repeats: int) -> dict:
    model = ContinuousLandmarkModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    size = config.image_size
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    boxes = torch.tensor([[0.25 * size, 0.2 * size, 0.75 * size, 0.8 * size]], device=device).repeat(batch, 1)
    queries = torch.randn(68, 3, device=device) * 5
    targets = torch.rand(batch, 68, 2, device=device) * size
    mask = torch.ones(batch, 68, dtype=torch.bool, device=device)
    iod = torch.full((batch,), 0.3 * size, device=device)

    def train_step():
        loss = landmark_loss(model(images, boxes, queries)["landmarks2d"], targets, mask, iod, float(mask.sum()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def infer_batch():
        model(images, boxes, queries)

    @torch.no_grad()
    def infer_one():
        model(images[:1], boxes[:1], queries)

    model.train()
    train_time = _timed(train_step, repeats, device)
    model.eval()
    batch_time = _timed(infer_batch, repeats, device)
    one_time = _timed(infer_one, repeats * 4, device)
    return {"train images/s": batch / train_time, "inference images/s": batch / batch_time,
            "single-image latency ms": 1000 * one_time}


def latency_comparison(preset_name: str, sizes=(256, 1024), repeats: int = 5) -> dict:
    """Single-image CPU latency (ms) of S + model, and of the LBP detector + baseline, at each image size."""
    import torch.nn.functional as F

    from lm3d.inference import LBPFaceFinder
    from lm3d.synth import SynthFaces

    sample = SynthFaces("synth300w", "test", 1, image_size=256).render([0])
    s_model = ContinuousLandmarkModel(preset(preset_name, "s-similarity").model).eval()
    baseline = ContinuousLandmarkModel(preset(preset_name).model).eval()
    detector, queries = LBPFaceFinder(), torch.randn(68, 3) * 5
    out = {}
    for size in sizes:
        image = F.interpolate(sample["image"].float(), size=(size, size), mode="bilinear").round().to(torch.uint8)
        array = image[0].permute(1, 2, 0).numpy()
        true_box = sample["bbox"] * size / 256

        @torch.no_grad()
        def with_s():
            s_model(image, None, queries)

        @torch.no_grad()
        def with_detector():
            found = detector(array)
            box = torch.tensor([found], dtype=torch.float32) if found is not None else true_box
            baseline(image, box, queries)

        out[size] = {"S similarity + model": 1000 * _timed(with_s, repeats, "cpu"),
                     "LBP detector + baseline": 1000 * _timed(with_detector, repeats, "cpu"),
                     "LBP detector alone": 1000 * _timed(lambda: detector(array), repeats, "cpu")}
    return out


def detector_latency(preset_name: str, repeats: int = 10) -> dict:
    """ms per ``Detector.predict`` call on one image of the preset's size, for each head and crop (CPU)."""
    import lm3d
    from lm3d.synth import SynthFaces

    sample = SynthFaces("synth300w", "test", 1, image_size=preset(preset_name).image_size).render([0])
    image, box = sample["image"][0].permute(1, 2, 0).numpy(), sample["bbox"][0].tolist()
    out = {}
    for variant in ("baseline", "crop-3d", "s-similarity", "s-3d"):
        model = ContinuousLandmarkModel(preset(preset_name, variant).model)
        detector = lm3d.Detector(model, min_face_score=0.0)
        kwargs = {"box": box} if model.needs_box else {}
        out[variant] = 1000 * _timed(lambda: detector.predict(image, layout="ibug68", **kwargs), repeats, "cpu")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--batch", type=int, default=None, help="default: the preset's batch size")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = preset(args.preset)
    batch = args.batch or config.batch_size
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"preset {args.preset}: image {config.image_size}px, crop {config.model.crop_size}px, width "
          f"{config.model.width}, batch {batch}; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    for device in devices:
        for name, value in measure(config, device, batch, args.repeats).items():
            print(f"{device.type:5s} {name:26s} {value:10.1f}")
    print(f"Detector.predict, one {config.image_size} px image, 68 points, CPU ms (3D heads: + pose, camera, "
          "3D points, visibility)")
    for variant, ms in detector_latency(args.preset, args.repeats * 2).items():
        print(f"  {variant:14s} {ms:8.1f}")
    latency = latency_comparison(args.preset, repeats=args.repeats)
    print("single-image latency ms, CPU  " + "".join(f"{size:>9d} px" for size in latency))
    for name in next(iter(latency.values())):
        print(f"{name:30s}" + "".join(f"{latency[size][name]:12.1f}" for size in latency))


if __name__ == "__main__":
    main()
