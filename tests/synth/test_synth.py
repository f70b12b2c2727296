"""SynthFaces: exact ground truth, visibility, determinism, sources, conventions and errors."""
import json
import subprocess
import sys

import pytest
import torch

from lm3d.face import camera, layouts
from lm3d.raster import visibility_tolerance
from lm3d.synth import SynthFaces, pose_scenes, project_queries, render_scenes, sources
from lm3d.synth.render import SILHOUETTE_LOOKOUT_PIXELS

SIZE = 96  # small images keep the suite fast; the code path is the same at 256


@pytest.fixture(scope="module")
def batch():
    data = SynthFaces("synth300w", "train", size=32, seed=0, image_size=SIZE)
    return data, data.render(list(range(12)), buffers=True)


def test_item_fields_and_types(batch):
    data, _ = batch
    item = data[3]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, SIZE, SIZE)
    k = len(layouts.get("ibug68"))
    assert item["landmarks2d"].shape == (k, 2) and item["visible"].shape == (k,) and item["visible"].dtype == torch.bool
    assert item["rotation"].shape == (3, 3) and item["translation"].shape == (3,) and item["intrinsics"].shape == (4,)
    assert item["points3d"].shape == (k, 3) and item["bbox"].shape == (4,) and item["iod"].item() > 0
    assert item["source"] == "synth300w" and item["layout"] == "ibug68"
    torch.testing.assert_close(item["rotation"] @ item["rotation"].T, torch.eye(3), atol=1e-5, rtol=0)


def test_projection_reproduces_landmarks_exactly(batch):
    _, b = batch
    projected = camera.project(b["points3d"], b["intrinsics"])
    torch.testing.assert_close(projected, b["landmarks2d"] - b["annotation_noise"], atol=1e-3, rtol=0)
    assert b["annotation_noise"].abs().max() > 0  # synth300w does have annotation noise


def test_visibility_agrees_with_the_depth_buffer(batch):
    _, b = batch
    xy, z = b["landmarks2d"] - b["annotation_noise"], b["points3d"][..., 2]
    inside = ((xy >= 0) & (xy < SIZE)).all(-1)
    # the jaw follows the silhouette, where the face's own surface grazes the ray: its depth is read just outside
    centre = (b["bbox"][:, None, :2] + b["bbox"][:, None, 2:]) / 2
    looked_at = xy.clone()
    looked_at[:, :17] += SILHOUETTE_LOOKOUT_PIXELS * torch.nn.functional.normalize(xy[:, :17] - centre, dim=-1)
    col, row = looked_at[..., 0].clamp(0, SIZE - 1).long(), looked_at[..., 1].clamp(0, SIZE - 1).long()
    depth = b["depth_buffer"][torch.arange(len(z))[:, None], row, col]
    in_front = z <= depth + visibility_tolerance(z, b["intrinsics"])
    assert (b["visible"] <= (inside & in_front)).all()  # every visible point passes the depth test
    hidden_by_surface = inside & ~in_front
    assert not (b["visible"] & hidden_by_surface).any()
    assert b["visible"].float().mean() > 0.4


def _posed(data, yaw, pitch=0.0):
    scenes = data.scenes([0])
    scene = scenes[0]
    scene.update(yaw=yaw, pitch=pitch, roll=0.0, face_px=0.5 * SIZE, occluder=None)
    scene["centre"][:] = SIZE / 2
    scene["expression"][:] = 0
    return render_scenes(scenes, data.spec, data.queries, "ibug68", SIZE)


def test_frontal_face_shows_its_inner_landmarks_and_profiles_hide_the_far_side():
    data = SynthFaces("synth300w", "test", size=4, image_size=SIZE)
    frontal = _posed(data, 0.0)
    # the jaw outline, brows, nose, eyes and outer lips face the camera (inner-lip points of a closed
    # mouth sit in the crease between the lips, where the lips' own surface may hide them)
    assert frontal["visible"][0, :60].all()
    turned = _posed(data, 75.0)  # nose towards the image's right: the subject's left side turns away
    assert not turned["visible"][0, 45]  # the left eye's outer corner is hidden
    assert turned["visible"][0, 36]  # the right eye's outer corner is seen
    x = frontal["landmarks2d"][0] - frontal["annotation_noise"][0]
    assert x[36, 0] < x[45, 0]  # the subject's right eye is on the image's left


def test_iod_and_box(batch):
    _, b = batch
    truth = b["landmarks2d"] - b["annotation_noise"]
    torch.testing.assert_close(b["iod"], (truth[:, 36] - truth[:, 45]).norm(dim=-1), atol=1e-3, rtol=0)
    assert ((b["bbox"][:, :2] <= truth.min(1).values + 1e-3) & (b["bbox"][:, 2:] >= truth.max(1).values - 1e-3)).all()


def test_determinism_and_batch_independence():
    data = SynthFaces("synthwflw", "val", size=8, seed=3, image_size=64)
    first = data.render([1, 5])
    again = SynthFaces("synthwflw", "val", size=8, seed=3, image_size=64).render([1, 5])
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["landmarks2d"], again["landmarks2d"])
    alone = data[5]
    assert torch.equal(alone["image"], first["image"][1])
    torch.testing.assert_close(alone["landmarks2d"], first["landmarks2d"][1])


def test_images_are_identical_across_processes(tmp_path):
    # a fresh interpreter starts with cold caches (masks, background pool, noise bank)
    script = ("import sys, torch; from lm3d.synth import SynthFaces; "
              "torch.save(SynthFaces('synth300w', 'test', size=6, seed=2, image_size=80).render(range(6))['image'], "
              "sys.argv[1])")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "images.pt")], check=True)
    here = SynthFaces("synth300w", "test", size=6, seed=2, image_size=80).render(range(6))["image"]
    assert torch.equal(torch.load(tmp_path / "images.pt"), here)


def test_the_jaw_follows_the_silhouette_on_the_far_side_only():
    data = SynthFaces("synth300w", "test", size=4, image_size=SIZE)
    frontal, turned = _posed(data, 0.0), _posed(data, 40.0)  # nose to the image's right: the subject's left turns away
    scene = data.scenes([0])[0]  # the same scene as _posed's, for the layout's own points
    scene.update(yaw=40.0, pitch=0.0, roll=0.0, face_px=0.5 * SIZE, occluder=None, centre=scene["centre"] * 0 + SIZE / 2)
    scene["expression"][:] = 0
    layout = layouts.get("ibug68")
    on_layout = project_queries(pose_scenes([scene], SIZE), layout.triangle, layout.barycentric)["landmarks2d"][0]
    moved = ((turned["landmarks2d"][0] - turned["annotation_noise"][0]) - on_layout).norm(dim=-1) / turned["iod"][0]
    far, near = list(range(10, 17)), list(range(0, 7))  # the subject's left jaw, then its right
    assert moved[far].max() > 0.05 and moved[near].max() < 0.01 and moved[17:].max() < 1e-4
    # the far-side points slide forward over the cheek to the outline the camera sees, which lies outside (to the
    # image's right of) the layout points, whose rim has turned behind the cheek
    assert ((turned["landmarks2d"][0, 12:16, 0] - turned["annotation_noise"][0, 12:16, 0]) > on_layout[12:16, 0]).all()
    assert frontal["visible"][0, :17].all() and turned["visible"][0, 12:16].all()


def test_splits_and_seeds_give_different_samples():
    a = SynthFaces("synth300w", "train", 2, seed=0, image_size=64)[0]
    b = SynthFaces("synth300w", "test", 2, seed=0, image_size=64)[0]
    c = SynthFaces("synth300w", "train", 2, seed=1, image_size=64)[0]
    assert not torch.equal(a["landmarks2d"], b["landmarks2d"]) and not torch.equal(a["landmarks2d"], c["landmarks2d"])


def test_landmarks_of_any_layout_or_queries(batch):
    data, b = batch
    again = data.landmarks(2, layout="ibug68")  # synth300w: the reference convention, its jaw on the silhouette
    torch.testing.assert_close(again["landmarks2d"][17:], b["landmarks2d"][2, 17:] - b["annotation_noise"][2, 17:],
                               atol=1e-3, rtol=0)
    wflw = data.landmarks(2, layout="wflw98")
    assert wflw["landmarks2d"].shape == (98, 2)
    mapped = wflw["landmarks2d"][list(range(0, 33, 2))]  # WFLW's even jaw points are ibug68's jaw
    torch.testing.assert_close(mapped, again["landmarks2d"][:17], atol=1e-2, rtol=0)
    queries = (torch.tensor([5, 77]), torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    assert data.landmarks(2, queries=queries)["points3d"].shape == (2, 3)


def test_every_source_renders():
    for name in sources.names():
        split = "test" if not sources.get(name).train else "train"
        data = SynthFaces(name, split, size=2, image_size=64)
        b = data.render([0, 1])
        assert b["landmarks2d"].shape[1] == len(layouts.get(sources.get(name).layout))
        assert torch.isfinite(b["landmarks2d"]).all() and b["image"].dtype == torch.uint8


def test_conventions_move_points_as_configured():
    _, offsets = sources.convention_points("synth300w")
    assert offsets.abs().max() == 0
    points, offsets = sources.convention_points("synthwflw")
    wflw = layouts.get("wflw98")
    brows = wflw.group_indices("right_brow") + wflw.group_indices("left_brow")
    assert (offsets[brows, 1] > 0.1).all()  # WFLW-like annotators put brows higher
    assert offsets[wflw.group_indices("right_eye")].abs().max() == 0  # eyes are left alone
    _, mpie = sources.convention_points("synthmpie")
    jaw = layouts.get("ibug68").group_indices("jaw")
    assert (mpie[jaw[:4], 0] > 0).all() and (mpie[jaw[-4:], 0] < 0).all()  # jaw points move inwards


def test_conventions_scale_for_the_how_large_experiment():
    _, once = sources.convention_points("synthwflw")
    _, twice = sources.convention_points("synthwflw", 2.0)
    moved = once.norm(dim=-1) > 0
    ratio = twice[moved].norm(dim=-1) / once[moved].norm(dim=-1)
    assert 1.8 < ratio.median() < 2.2  # snapped back onto the mesh, so not exactly 2 everywhere
    assert sources.convention_points("synthwflw", 0)[1].abs().max() == 0
    for bad in (-1, 11, "2", True):
        with pytest.raises(ValueError, match="convention_scale"):
            sources.convention_points("synthwflw", bad)
    # at scale 0 a source's annotations are the exact nominal points (plus its annotation noise)
    data = SynthFaces("synthwflw", "train", 2, image_size=64, convention_scale=0)
    b = data.render([0, 1])
    exact = data.landmarks(1, layout="wflw98")["landmarks2d"]
    torch.testing.assert_close(b["landmarks2d"][1] - b["annotation_noise"][1], exact, atol=1e-3, rtol=0)
    scaled = SynthFaces("synthwflw", "train", 2, image_size=64, convention_scale=3).render([1])
    assert torch.equal(scaled["image"][0], b["image"][1])  # only the labels change, not the faces
    assert not torch.allclose(scaled["landmarks2d"][0], b["landmarks2d"][1])
    with pytest.raises(ValueError, match="convention_scale"):
        SynthFaces("synthwflw", "train", 2, convention_scale=-0.5)


def test_hmc_is_close_wide_and_from_below():
    data = SynthFaces("hmc", "test", size=6, image_size=64)
    b = data.render(list(range(6)))
    fov = camera.fov_from_focal(b["intrinsics"][:, 0], 64)
    assert (fov >= 90).all()
    _, pitch, _ = camera.rotation_to_euler(b["rotation"])
    assert (pitch > 5).all()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(source="synth999", split="train", size=1), ValueError, "unknown source 'synth999'.*synth300w"),
    (dict(source="synth300w", split="holdout", size=1), ValueError, "unknown split"),
    (dict(source="hmc", split="train", size=1), ValueError, "test-only"),
    (dict(source="synth300w", split="train", size=-1), ValueError, "size"),
    (dict(source="synth300w", split="train", size=1, image_size=8), ValueError, "image_size"),
    (dict(source="synth300w", split="train", size=1, seed=-2), ValueError, "seed"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        SynthFaces(**kwargs)


def test_bad_index_and_layout(batch):
    data, _ = batch
    with pytest.raises(IndexError):
        data[32]
    with pytest.raises(ValueError, match="unknown layout"):
        data.landmarks(0, layout="ibug69")
    with pytest.raises(ValueError, match="out of range"):
        data.landmarks(0, queries=(torch.tensor([9999]), torch.tensor([[1.0, 0.0, 0.0]])))


def test_sources_file_ranges_are_checked(tmp_path):
    data = json.loads(sources.SOURCES_FILE.read_text())
    data["sources"]["synth300w"]["scene"]["fov_deg"] = [10, 200]
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="fov_deg"):
        sources.load(path)
    data["sources"]["synth300w"]["scene"]["fov_deg"] = [15, 75]
    data["sources"]["synth300w"]["scene"]["occlusion_prob"] = 1.5
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="occlusion_prob"):
        sources.load(path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_render_matches_cpu():
    data = SynthFaces("synth300w", "test", size=8, seed=0, image_size=128)
    cpu, gpu = data.render(range(8)), data.render(range(8), device="cuda")
    assert gpu["image"].is_cuda and gpu["image"].dtype == torch.uint8
    difference = (gpu["image"].cpu().int() - cpu["image"].int()).abs()
    assert (difference > 2).float().mean() < 1e-3  # float rounding and rare z-buffer ties only
    torch.testing.assert_close(gpu["landmarks2d"].cpu(), cpu["landmarks2d"], atol=1e-3, rtol=0)
    assert (gpu["visible"].cpu() != cpu["visible"]).float().mean() < 0.01


def test_a_whole_set_renders_in_chunks_as_in_one_batch():
    data = SynthFaces("synthwflw", "test", 3, image_size=48)
    assert data.chunks(2) == [[0, 1], [2]] and data.chunks() == [[0, 1, 2]]
    whole, at_once = data.render_all(("image", "landmarks2d")), data.render([0, 1, 2])
    assert torch.equal(whole["image"], at_once["image"]) and torch.equal(whole["landmarks2d"], at_once["landmarks2d"])
