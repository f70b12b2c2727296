import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from lm3d.io import gather_inputs, read_pts, video_frames, write_pts
from lm3d.io.pts import PTS_OFFSET


def test_pts_round_trip_is_one_based_and_atomic(tmp_path):
    points = np.array([[0.5, 0.5], [10.25, 20.75], [99.0, 1.0]])
    path = tmp_path / "face.pts"
    write_pts(path, points)
    text = path.read_text()
    assert text.startswith("version: 1\nn_points:  3\n{\n1.000 1.000\n") and text.endswith("}\n")  # top-left centre: (1, 1)
    np.testing.assert_allclose(read_pts(path, expected_points=3), points, atol=1e-3)
    assert PTS_OFFSET == 0.5 and sorted(p.name for p in tmp_path.iterdir()) == ["face.pts"]  # no temporary left


@pytest.mark.parametrize("text, expected, message", [
    ("version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n", 68, "holds 2 points, expected 68"),
    ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", None, "declares 3 points but holds 2"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 x\n}\n", None, "cannot read its points"),
    ("1 2\n3 4\n", None, "not a .pts file"),
    ("version: 1\nn_points: 1\n{\n1 nan\n}\n", None, "not a finite number"),
])
def test_bad_pts_files_are_named(tmp_path, text, expected, message):
    path = tmp_path / "bad.pts"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_pts(path, expected)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_pts(tmp_path / "missing.pts")
    with pytest.raises(ValueError, match="finite"):
        write_pts(tmp_path / "nan.pts", [[1.0, float("nan")]])


def test_gather_inputs_searches_folders_and_refuses_what_it_cannot_take(tmp_path):
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    for name in ("photos/b.png", "photos/sub/a.jpg", "photos/notes.txt", "photos/.hidden.png", "clip.mp4", "x.txt"):
        (tmp_path / name).write_bytes(b"")
    inputs = gather_inputs([tmp_path / "photos", tmp_path / "clip.mp4", tmp_path / "photos" / "b.png"])
    assert [(i.name, i.kind) for i in inputs] == [("photos/b", "image"), ("photos/sub/a", "image"), ("clip", "video")]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gather_inputs([tmp_path / "nothing"])
    with pytest.raises(ValueError, match="neither an image"):
        gather_inputs([tmp_path / "x.txt"])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "clip.png").write_bytes(b"")
    with pytest.raises(ValueError, match="same outputs"):
        gather_inputs([tmp_path / "clip.mp4", tmp_path / "other" / "clip.png"])


def write_video(path, frames, fps=10):
    writer = imageio_ffmpeg.write_frames(str(path), frames[0].shape[1::-1], fps=fps, codec="libx264",
                                         pix_fmt_out="yuv420p", quality=8)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()


def test_video_frames_decodes_and_names_broken_files(tmp_path):
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    write_video(tmp_path / "v.mp4", frames)
    info, decoded = video_frames(tmp_path / "v.mp4")
    decoded = list(decoded)
    assert info["size"] == (64, 48) and info["fps"] == 10 and len(decoded) == 5
    assert all(abs(float(d.mean()) - float(f.mean())) < 3 for d, f in zip(decoded, frames))
    for name, data in (("empty.mp4", b""), ("garbage.mp4", b"garbage" * 50)):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"cannot read video file .*{name}"):
            video_frames(tmp_path / name)


def test_image_files_of_every_common_kind_become_rgb(tmp_path):
    from lm3d.inference import read_image

    rgb = (np.arange(32 * 24 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "gray16.png")
    Image.fromarray(np.dstack([rgb, np.full((24, 32), 7, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "gray16.png"), np.repeat(rgb[..., :1], 3, -1))  # 16 bits scaled
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)
    assert read_image(tmp_path / "palette.png").shape == (24, 32, 3)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "photo.jpg").read_bytes()[:200])
    (tmp_path / "text.png").write_text("not an image")
    for name in ("cut.jpg", "text.png"):
        with pytest.raises(ValueError, match=f"cannot read image file .*{name}"):
            read_image(tmp_path / name)


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from lm3d.inference import images

    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ValueError, match="50x40 pixels, more than 1,000; downscale it first"):
        images.read_image(tmp_path / "big.png")
