"""The applications' figures (lm3d.vis.textures) and the texture explorer's logic, without a browser: the explorer is
driven by its buttons and slider as a browser would, with the true geometry of a SynthFaces clip as its predictions."""
import numpy as np
import pytest
import torch

import lm3d
from lm3d.applications import fuse_textures
from lm3d.inference import Prediction
from lm3d.raster.uv_space import uv_map
from lm3d.synth import pose_scenes
from lm3d.synth.video import clip_scenes, render_clip
from lm3d.vis import textures, widgets

IMAGE_SIZE, SIZE, FRAMES = 64, 32, 3


@pytest.fixture(scope="module")
def clip():
    """Three frames of a moving clip, and what a perfect 3D head would answer for each (the true geometry)."""
    scenes = clip_scenes("synth300w", 24, "moving", seed=0, image_size=IMAGE_SIZE)[::8][:FRAMES]
    rendered = render_clip("synth300w", scenes, IMAGE_SIZE)
    geometry = pose_scenes(scenes, IMAGE_SIZE)
    images = [image.permute(1, 2, 0).numpy() for image in rendered["image"]]
    predictions = [Prediction(torch.empty(0, 2), None, None, rotation=geometry["rotation"][i],
                              translation=geometry["translation"][i], intrinsics=geometry["intrinsics"][i],
                              mesh3d=geometry["vertices"][i, :468]) for i in range(FRAMES)]
    return images, predictions


def test_the_surface_mesh_of_the_template_is_its_subdivision(face):
    mesh = textures.surface_mesh(face.vertices)
    fine = face.subdivide(textures.SEGMENTS)
    torch.testing.assert_close(mesh.points, fine.vertices, atol=1e-5, rtol=0)
    assert torch.equal(mesh.triangles, fine.triangles) and mesh.uv.shape == (len(fine.vertices), 2)
    assert 0 <= mesh.uv.min() and mesh.uv.max() <= 1
    moved = textures.surface_mesh(face.vertices + torch.tensor([1.0, 2.0, 3.0]))  # a shifted face: every point moves
    torch.testing.assert_close(moved.points - mesh.points, torch.tensor([1.0, 2.0, 3.0]).expand_as(mesh.points))
    with pytest.raises(ValueError, match="dense face"):
        textures.surface_mesh(face.vertices[:10])


def test_texture_colours_read_the_known_texels_only():
    texture = torch.zeros(8, 8, 3)
    texture[:, :4] = torch.tensor([1.0, 0.0, 0.0])  # known: red
    texture[:, 4:] = torch.tensor([0.0, 0.0, 1.0])  # not known: whatever it holds must not show
    known = torch.zeros(8, 8, dtype=torch.bool)
    known[:, :4] = True
    uv = torch.tensor([[1.5 / 8, 0.5], [4.0 / 8, 0.5], [7.5 / 8, 0.5]])  # inside, on the border, far outside
    colours = textures.texture_colours(texture, known, uv)
    torch.testing.assert_close(colours[:2], torch.tensor([[1.0, 0.0, 0.0]] * 2))
    torch.testing.assert_close(colours[2], torch.full((3,), textures.MISSING_GREY))


def test_the_pictures_show_the_regions():
    covered = uv_map(SIZE).covered
    observed = covered.clone()
    observed[:, SIZE // 2:] = False
    filled = covered & ~observed
    filled[: SIZE // 2] = False
    picture = textures.texture_picture(torch.full((SIZE, SIZE, 3), 0.5), observed)
    assert picture.dtype == np.uint8 and (picture[~covered.numpy()] == 255).all()
    assert (picture[(covered & ~observed).numpy()] == 0).all() and (picture[observed.numpy()] == 128).all()
    regions = textures.regions_picture(observed, filled)
    for mask, name in ((observed, "seen"), (filled, "mirror-filled"), (covered & ~observed & ~filled, "unknown")):
        expected = np.round(np.array(textures.REGION_COLOURS[name]) * 255)
        assert mask.any() and (regions[mask.numpy()] == expected).all(), name


def test_the_coloured_face_figures_have_their_parts(face, clip):
    mesh = textures.surface_mesh(face.vertices)
    colours = torch.rand(len(mesh.points), 3, generator=torch.Generator().manual_seed(0))
    figure = textures.coloured_face_figure({"a": (mesh.points, mesh.triangles, colours),
                                            "b": (mesh.points + 20, mesh.triangles, colours)}, camera_frame=True)
    assert [type(t).__name__ for t in figure.data] == ["Mesh3d", "Mesh3d"]
    assert len(figure.data[0].vertexcolor) == len(mesh.points) and figure.data[0].vertexcolor[0].startswith("rgb(")
    view = textures.texture_frame_view(clip[0][0], (mesh.points, mesh.triangles, colours),
                                       textures.texture_picture(torch.zeros(SIZE, SIZE, 3)), title="t")
    assert [type(t).__name__ for t in view.data] == ["Image", "Mesh3d", "Image"] and view.layout.title.text == "t"


def test_texture_frames_fuse_the_frames_so_far(clip):
    images, predictions = clip
    frames = widgets.texture_frames(images, predictions, SIZE)
    assert len(frames) == FRAMES
    samples = [frame["sampled"] for frame in frames]
    for i, frame in enumerate(frames):
        fused = fuse_textures(samples[:i + 1])
        torch.testing.assert_close(frame["fused"].texture, fused.texture)
        assert torch.equal(frame["fused"].observed, fused.observed)
        assert frame["seen_so_far"] + frame["filled"] + frame["unknown"] == pytest.approx(100)
        assert frame["seen_so_far"] >= max(f["seen"] for f in frames[:i + 1]) - 1e-9
    assert [f["seen_so_far"] for f in frames] == sorted(f["seen_so_far"] for f in frames)  # a texture only grows
    with pytest.raises(ValueError, match="one prediction per frame"):
        widgets.texture_frames(images, predictions[:1], SIZE)


def test_the_texture_explorer_steps_through_frames(clip):
    images, predictions = clip
    explorer = widgets.TextureExplorer(None, images, size=SIZE, predictions=predictions)
    assert "frame 0" in explorer.status.value and "so far" in explorer.status.value
    first = explorer.figure.data[1].vertexcolor
    explorer.buttons["next"].click()
    assert "frame 1" in explorer.status.value and explorer.figure.layout.title.text.startswith("frame 1 ")
    assert explorer.figure.data[1].vertexcolor != first and explorer.slider.value == 1
    assert explorer.figure._widget_data[1]["vertexcolor"] == list(explorer.figure.data[1].vertexcolor)
    explorer.buttons["previous"].click()
    explorer.buttons["previous"].click()
    assert f"frame {FRAMES - 1}" in explorer.status.value  # wraps around
    explorer.frames[0] = {}  # a broken frame: the error shows in the widget's own panel
    explorer.slider.value = 0
    assert "KeyError" in explorer.status.value


def test_the_texture_explorer_needs_a_3d_head(untrained, clip):
    with pytest.raises(ValueError, match="2D head"):
        widgets.TextureExplorer(lm3d.Detector(untrained("baseline")), clip[0], size=SIZE)
