"""Landmark layouts: counts, surface membership, flip pairs, scheme semantics and loader errors."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from lm3d import layouts
from lm3d.face.layouts import LayoutAssetError

COUNTS = {"ibug68": 68, "wflw98": 98, "five": 5, "mp468": 468, "heldout": 200}

# The published left/right flip permutations of the two schemes (as used by their augmentation code)
IBUG68_FLIP = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
               + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40] + list(range(54, 47, -1))
               + [59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])
WFLW98_FLIP = (list(range(32, -1, -1)) + [46, 45, 44, 43, 42, 50, 49, 48, 47, 37, 36, 35, 34, 33, 41, 40, 39, 38]
               + [51, 52, 53, 54, 59, 58, 57, 56, 55] + [72, 71, 70, 69, 68, 75, 74, 73, 64, 63, 62, 61, 60, 67, 66, 65]
               + list(range(82, 75, -1)) + [87, 86, 85, 84, 83] + [92, 91, 90, 89, 88, 95, 94, 93] + [97, 96])
# The usual WFLW -> 68-point conversion: ibug68 point i corresponds to wflw98 point WFLW_FOR_IBUG[i]
WFLW_FOR_IBUG = (list(range(0, 33, 2)) + [33, 34, 35, 36, 37, 42, 43, 44, 45, 46] + list(range(51, 60))
                 + [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75] + list(range(76, 96)))


@pytest.fixture(scope="module")
def ibug(face):
    return layouts.get("ibug68")


def test_names_and_counts():
    assert layouts.names() == sorted(COUNTS)
    for name, count in COUNTS.items():
        layout = layouts.get(name)
        assert layout.name == name and len(layout) == count == len(layout.groups) == layout.triangle.shape[0]
        assert layout.barycentric.shape == (count, 3) and len(set(layout.names)) == count


def test_unknown_layout_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown layout 'ibug69'.*ibug68.*wflw98"):
        layouts.get("ibug69")


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_point_lies_on_the_surface(face, name):
    layout = layouts.get(name)
    points = layout.points(face)
    assert face.snap(points).distance.max() < 1e-4
    assert (layout.barycentric >= 0).all()
    torch.testing.assert_close(layout.barycentric.sum(1), torch.ones(len(layout)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_flip_pairs_mirror_each_other(face, name):
    layout = layouts.get(name)
    points = layout.points(face)
    permutation = layout.flip_permutation()
    assert torch.equal(permutation[permutation], torch.arange(len(layout)))  # flipping twice is the identity
    mirrored = points * torch.tensor([-1.0, 1.0, 1.0])
    if name == "heldout":
        assert not layout.flip_pairs  # random points have no mirror partners
        return
    torch.testing.assert_close(mirrored[permutation], points, atol=1e-4, rtol=0)


def test_flip_permutations_match_the_published_schemes():
    assert layouts.get("ibug68").flip_permutation().tolist() == IBUG68_FLIP
    assert layouts.get("wflw98").flip_permutation().tolist() == WFLW98_FLIP


def test_ibug68_and_wflw98_agree_where_the_schemes_share_points(face, ibug):
    wflw = layouts.get("wflw98")
    distance = (ibug.points(face) - wflw.points(face)[WFLW_FOR_IBUG]).norm(dim=1)
    eyes = torch.zeros(68, dtype=torch.bool)
    eyes[36:48] = True
    assert distance[~eyes].max() < 1e-4  # jaw, brows, nose and lips are placed identically
    assert distance[eyes].max() < 0.3  # 6-point and 8-point eyelids sample the lids differently (cm)


def test_ibug68_semantics(face, ibug):
    p = ibug.points(face)
    x, y, z = p.unbind(1)
    right = [i for i, g in enumerate(ibug.groups) if g.startswith("right_")] + list(range(0, 8))
    left = [i for i, g in enumerate(ibug.groups) if g.startswith("left_")] + list(range(9, 17))
    assert (x[right] < 0).all() and (x[left] > 0).all()  # subject's right is x < 0
    assert torch.allclose(x[27:31], torch.zeros(4)) and abs(x[33]) < 1e-6 and abs(x[8]) < 1e-6
    assert y[17:27].min() > y[36:48].max()  # brows above eyes
    assert y[36:48].min() > y[30] > y[33]  # eyes above the nose tip, nose tip above the subnasale
    assert y[33] > y[48:60].max() and y[48:60].min() > y[8]  # nose above mouth above chin
    assert y[8] == y[:17].min() and z[30] == z.max()  # chin is the lowest jaw point, nose tip protrudes most
    assert abs(x[36]) > abs(x[39]) and abs(x[45]) > abs(x[42])  # outer eye corners are the lateral ones
    assert y[51] > y[62] > y[66] > y[57]  # upper outer lip, inner lips, lower outer lip
    assert (y[[37, 38]] > y[[41, 40]]).all()  # upper lid above lower lid
    assert ibug.norm_pair == (36, 45)
    assert (p[36] - p[45]).norm().item() == pytest.approx(8.9, abs=0.1)


def test_wflw98_semantics(face):
    wflw = layouts.get("wflw98")
    p = wflw.points(face)
    assert wflw.norm_pair == (60, 72)
    assert (p[33:38, 1].mean() > p[38:42, 1].mean()) and (p[42:47, 1].mean() > p[47:51, 1].mean())  # upper brow edge
    for pupil, contour in ((96, range(60, 68)), (97, range(68, 76))):  # pupils inside their eye contours
        lo, hi = p[list(contour)].min(0).values, p[list(contour)].max(0).values
        assert (p[pupil, :2] > lo[:2]).all() and (p[pupil, :2] < hi[:2]).all()


def test_five_points(face, ibug):
    five = layouts.get("five")
    assert five.names == ("right_eye", "left_eye", "nose", "right_mouth", "left_mouth")
    p, q = five.points(face), ibug.points(face)
    torch.testing.assert_close(p[2], q[30])  # nose tip
    torch.testing.assert_close(p[3:], q[[48, 54]])  # mouth corners
    torch.testing.assert_close(p[0], q[36:42].mean(0), atol=0.3, rtol=0)  # eye centre near the contour centre
    assert five.norm_pair is None


def test_mp468_is_every_vertex(face):
    mp = layouts.get("mp468")
    torch.testing.assert_close(mp.points(face), face.vertices)
    assert len(mp.edges) == 1365 and mp.norm_pair == (33, 263)


def test_heldout_points_are_new(face):
    heldout = layouts.get("heldout").points(face)
    known = torch.cat([layouts.get(n).points(face) for n in ("ibug68", "wflw98", "five")])
    assert torch.cdist(heldout, known, compute_mode="donot_use_mm_for_euclid_dist").min() > 0.01


def test_edges_and_named_access(ibug):
    assert all(0 <= a < 68 and 0 <= b < 68 for a, b in ibug.edges)
    assert ibug.group_indices("jaw") == list(range(17))
    assert ibug.index("right_eye_1") == 36
    with pytest.raises(ValueError, match="no group"):
        ibug.group_indices("ears")
    with pytest.raises(ValueError, match="no point named"):
        ibug.index("ear")


def test_nearest_layout_points(face, ibug):
    assert ibug.nearest(face, ibug.points(face)[30], 1)[0][0] == ibug.names[30]


def _write_broken(tmp_path, edit):
    data = json.loads((layouts.LAYOUT_DIR / "five.json").read_text())
    edit(data)
    path = tmp_path / "five.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["points"][0].pop("triangle"), "corrupt"),
    (lambda d: d["points"][0].update(triangle=5000), "out of range"),
    (lambda d: d["points"][0].update(barycentric=[0.5, 0.1, 0.1]), "sum to 1"),
    (lambda d: d.update(flip_pairs=[[0, 9]]), "outside"),
    (lambda d: d.update(flip_pairs=[[0, 1], [1, 2]]), "more than one flip pair"),
    (lambda d: d["points"][1].update(name=d["points"][0]["name"]), "not unique"),
])
def test_broken_layout_files_are_rejected(tmp_path, edit, message):
    # a file of the user's own: the error names the problem and how to write a valid file
    with pytest.raises(LayoutAssetError, match=f"{message}.*lm3d.layouts.save"):
        layouts.load(_write_broken(tmp_path, edit))


def test_a_broken_shipped_layout_says_how_to_regenerate_it():
    assert "make_layouts.py" in layouts._fix_for((layouts.LAYOUT_DIR / "five.json").resolve().parent / "x.json")


def test_missing_and_unparsable_layout_files(tmp_path):
    with pytest.raises(LayoutAssetError, match="missing"):
        layouts.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(LayoutAssetError, match="corrupt"):
        layouts.load(tmp_path / "bad.json")


def test_committed_layouts_are_what_the_script_makes(tmp_path):
    script = Path(__file__).resolve().parents[2] / "data_scripts" / "make_layouts.py"
    spec = importlib.util.spec_from_file_location("make_layouts", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in COUNTS:
        made = json.loads((tmp_path / f"{name}.json").read_text())
        committed = json.loads((layouts.LAYOUT_DIR / f"{name}.json").read_text())
        # the weights are stored to 7 decimals, and another CPU's float rounding can move the last one
        made_weights = torch.tensor([p.pop("barycentric") for p in made["points"]])
        committed_weights = torch.tensor([p.pop("barycentric") for p in committed["points"]])
        assert made == committed, name
        assert torch.allclose(made_weights, committed_weights, rtol=0, atol=2e-7), name


@pytest.mark.parametrize("name", layouts.names())
def test_to_dict_writes_the_shipped_format(name):
    """The library's writer and data_scripts/make_layouts.py agree byte for byte on every shipped layout."""
    assert layouts.get(name).to_dict() == json.loads((layouts.LAYOUT_DIR / f"{name}.json").read_text())


def test_a_custom_layout_round_trips_and_registers(face, tmp_path, generator):
    triangle, barycentric = face.sample(5, generator)
    mine = layouts.custom("nose_ridge_test", triangle, barycentric)
    assert len(mine) == 5 and mine.norm_pair is None and set(mine.groups) == {"custom"}
    loaded = layouts.load(layouts.save(mine, tmp_path / "nose.json"))
    assert loaded.to_dict() == mine.to_dict()
    torch.testing.assert_close(loaded.points(face), face.points(triangle, barycentric), atol=1e-5, rtol=0)
    assert layouts.get(mine) is mine
    with pytest.raises(ValueError, match="unknown layout 'nose_ridge_test'.*register"):
        layouts.get("nose_ridge_test")
    layouts.register(mine)
    assert layouts.get("nose_ridge_test") is mine and "nose_ridge_test" in layouts.registered()
    with pytest.raises(ValueError, match="already registered"):
        layouts.register(mine)
    layouts.register(loaded, replace=True)
    assert layouts.get("nose_ridge_test") is loaded


@pytest.mark.parametrize("make, message", [
    (lambda f: layouts.custom("bad name", [0], [[1.0, 0.0, 0.0]]), "identifier"),
    (lambda f: layouts.custom("empty", torch.zeros(0, dtype=torch.long), torch.zeros(0, 3)), "at least one point"),
    (lambda f: layouts.custom("off", [0], [[0.5, 0.1, 0.1]]), "sum to 1"),
    (lambda f: layouts.custom("far", [5000], [[1.0, 0.0, 0.0]]), "out of range"),
    (lambda f: layouts.custom("twins", [0, 1], [[1.0, 0, 0]] * 2, point_names=["a", "a"]), "not unique"),
    (lambda f: layouts.custom("short", [0, 1], [[1.0, 0, 0]] * 2, point_names=["a"]), "2 names"),
    (lambda f: layouts.register(layouts.custom("ibug68", [0], [[1.0, 0.0, 0.0]])), "ships with lm3d"),
    (lambda f: layouts.register("ibug68"), "takes a Layout"),
])
def test_bad_custom_layouts_are_refused(face, make, message):
    with pytest.raises((ValueError, TypeError, LayoutAssetError), match=message):
        make(face)
