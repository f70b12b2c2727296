import numpy as np
import pytest
import torch

from lm3d.face import CanonicalFace, camera
from lm3d.inference import Detector
from lm3d.io.meshes import face_mesh, read_obj, write_obj, write_ply
from lm3d.synth import SynthFaces


@pytest.fixture(scope="module")
def prediction(untrained):
    detector = Detector(untrained("crop-3d"))
    face = SynthFaces("synth300w", "test", 1, image_size=96).render([0])
    return detector.predict(face["image"][0].permute(1, 2, 0).numpy(), box=face["bbox"][0])


def test_the_predicted_face_round_trips_through_obj_and_ply(prediction, tmp_path):
    face = CanonicalFace.load()
    vertices, triangles = face_mesh(prediction)
    np.testing.assert_allclose(vertices, prediction.mesh3d.numpy(), atol=1e-6)
    write_obj(tmp_path / "face.obj", vertices, triangles, face.uvs.numpy())
    read_vertices, read_triangles = read_obj(tmp_path / "face.obj")
    np.testing.assert_allclose(read_vertices, vertices, atol=1e-5)
    np.testing.assert_array_equal(read_triangles, triangles)
    assert "vt " in (tmp_path / "face.obj").read_text()
    posed, _ = face_mesh(prediction, posed=True)
    expected = camera.to_camera(prediction.mesh3d, prediction.rotation, prediction.translation).numpy()
    np.testing.assert_allclose(posed, expected, atol=1e-5)
    assert (posed[:, 2] > 0).all()  # in front of the camera
    write_ply(tmp_path / "face.ply", posed, triangles)
    text = (tmp_path / "face.ply").read_text().splitlines()
    assert text[0] == "ply" and f"element vertex {len(posed)}" in text and len(text) == 10 + len(posed) + len(triangles)


def test_bad_meshes_are_refused(prediction, tmp_path):
    vertices, triangles = face_mesh(prediction)
    with pytest.raises(ValueError, match="index"):
        write_obj(tmp_path / "x.obj", vertices[:10], triangles)
    with pytest.raises(ValueError, match="uvs must be"):
        write_obj(tmp_path / "x.obj", vertices, triangles, np.zeros((3, 2)))
    missing = type(prediction)(**{**vars(prediction), "mesh3d": None})
    with pytest.raises(ValueError, match="needs a model with a 3D head"):
        face_mesh(missing)
    lost = type(prediction)(**{**vars(prediction), "mesh3d": torch.full_like(prediction.mesh3d, float("nan"))})
    with pytest.raises(ValueError, match="no face was found"):
        face_mesh(lost)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_per_vertex_colours_are_written_and_checked(prediction, tmp_path):
    vertices, triangles = face_mesh(prediction)
    colours = np.linspace(0, 1, 3 * len(vertices)).reshape(-1, 3)
    write_ply(tmp_path / "face.ply", vertices, triangles, colours)
    lines = (tmp_path / "face.ply").read_text().splitlines()
    assert lines[lines.index("end_header") + len(vertices)].split()[3:] == ["255", "255", "255"]  # the last vertex
    write_obj(tmp_path / "face.obj", vertices, triangles, colours=colours)
    assert (tmp_path / "face.obj").read_text().splitlines()[1].split()[4:] == ["0.0000", "0.0007", "0.0014"]
    np.testing.assert_allclose(read_obj(tmp_path / "face.obj")[0], vertices, atol=1e-5)
    for bad in (colours[:5], colours * 255, np.full_like(colours, np.nan)):
        with pytest.raises(ValueError, match="colours must be"):
            write_ply(tmp_path / "bad.ply", vertices, triangles, bad)
    assert not (tmp_path / "bad.ply").exists()
