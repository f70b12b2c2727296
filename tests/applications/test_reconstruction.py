import dataclasses

import numpy as np
import pytest
import torch

from lm3d.applications import face_mesh, vertex_colours, write_face
from lm3d.applications.reconstruction import UNKNOWN_GREY, vertex_surface_points
from lm3d.face import CanonicalFace, camera
from lm3d.inference import Detector
from lm3d.io.meshes import read_obj
from lm3d.synth import SynthFaces


@pytest.fixture(scope="module")
def answered(untrained):
    """A crop-3d model whose P is disturbed (so the dense face is not the template), asked for every mesh vertex."""
    model = untrained("crop-3d")
    with torch.no_grad():
        last = model.predictor.mlp[-1]
        last.weight.copy_(0.2 * torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(1)))
    face = SynthFaces("synth300w", "test", 1, image_size=64).render([0])
    image = face["image"][0].permute(1, 2, 0).numpy()
    prediction = Detector(model).predict(image, box=face["bbox"][0], queries=vertex_surface_points())
    return image, prediction


def test_every_vertex_is_a_surface_point_at_that_vertex(face):
    triangle, barycentric = vertex_surface_points()
    torch.testing.assert_close(face.points(triangle, barycentric), face.vertices)


def test_the_posed_face_is_the_canonical_one_in_the_camera_and_projects_onto_the_landmarks(answered, face):
    """posed = R diag(1, -1, -1) X + t, in front of the camera, and the camera projects it exactly where the model put
    the landmarks of the same surface points (the 3D head's 2D answer is that projection)."""
    _, prediction = answered
    canonical, triangles = face_mesh(prediction)
    posed, _ = face_mesh(prediction, posed=True)
    assert np.abs(canonical - face.vertices.numpy()).max() > 0.1  # a face of its own, not the template
    flip = np.diag([1.0, -1.0, -1.0])
    expected = canonical @ flip.T @ prediction.rotation.double().numpy().T + prediction.translation.double().numpy()
    np.testing.assert_allclose(posed, expected, atol=1e-4)
    assert (posed[:, 2] > 0).all() and np.array_equal(triangles, face.triangles.numpy())
    projected = camera.project(torch.from_numpy(posed).float(), prediction.intrinsics)
    torch.testing.assert_close(projected, prediction.landmarks2d, atol=1e-3, rtol=0)
    torch.testing.assert_close(prediction.landmarks3d, prediction.mesh3d)


def test_vertex_colours_come_from_the_image_then_the_mirror_then_grey(answered):
    image, prediction = answered
    turned = dataclasses.replace(prediction, rotation=camera.euler_to_rotation(50.0, 0.0, 0.0) @ prediction.rotation)
    plain = np.empty_like(image)
    plain[...] = (51, 153, 230)  # one colour everywhere: every seen vertex must read exactly it
    coloured = vertex_colours(plain, turned)
    expected = torch.tensor([51, 153, 230]) / 255
    assert coloured.seen.sum() > 150 and coloured.mirrored.sum() > 50  # the far cheek takes the near one's colours
    torch.testing.assert_close(coloured.colour[coloured.seen], expected.expand(int(coloured.seen.sum()), 3))
    torch.testing.assert_close(coloured.colour[coloured.mirrored], expected.expand(int(coloured.mirrored.sum()), 3))
    rest = ~coloured.seen & ~coloured.mirrored
    assert (coloured.colour[rest] == UNKNOWN_GREY).all() and not (coloured.seen & coloured.mirrored).any()
    mirror = CanonicalFace.load().mirror_vertex()
    assert coloured.seen[mirror][coloured.mirrored].all()  # a mirrored vertex's mirror image was seen


def test_the_face_is_written_with_its_colours(answered, tmp_path):
    image, prediction = answered
    write_face(tmp_path / "face.ply", prediction, image=image, posed=True)
    lines = (tmp_path / "face.ply").read_text().splitlines()
    assert "property uchar red" in lines and len(lines[lines.index("end_header") + 1].split()) == 6
    write_face(tmp_path / "face.obj", prediction, image=image)
    text = (tmp_path / "face.obj").read_text()
    first = next(line for line in text.splitlines() if line.startswith("v "))
    colours = vertex_colours(image, prediction).colour[0]
    np.testing.assert_allclose([float(v) for v in first.split()[4:]], colours.numpy(), atol=1e-4)
    assert "vt " in text
    vertices, _ = read_obj(tmp_path / "face.obj")  # the colours do not get in the way of reading it back
    np.testing.assert_allclose(vertices, prediction.mesh3d.numpy(), atol=1e-4)
    write_face(tmp_path / "plain.obj", prediction)
    assert len(next(line for line in (tmp_path / "plain.obj").read_text().splitlines() if line.startswith("v ")).split()) == 4


def test_bad_requests_are_refused(answered, tmp_path, untrained):
    image, prediction = answered
    with pytest.raises(ValueError, match="cannot write a face mesh as '.stl'"):
        write_face(tmp_path / "face.stl", prediction)
    with pytest.raises(ValueError, match="no part of the predicted face falls inside this 4x4 image"):
        write_face(tmp_path / "face.ply", prediction, image=np.zeros((4, 4, 3), np.uint8))
    flat = Detector(untrained("baseline")).predict(image, box=(0, 0, 63, 63))
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        vertex_colours(image, flat)
    assert not list(tmp_path.iterdir())  # nothing half-written
