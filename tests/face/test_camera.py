"""Camera conventions: frontal pose, Euler round trips, projection and unprojection."""
import pytest
import torch

from lm3d.face import camera


def test_identity_pose_is_a_frontal_upright_face():
    # canonical: x to the subject's left, y up, z out of the face
    nose, left_eye, forehead = torch.tensor([[0.0, 0.0, 7.0], [4.0, 2.5, 3.0], [0.0, 8.0, 4.0]])
    cam = camera.to_camera(torch.stack([nose, left_eye, forehead]), torch.eye(3), torch.tensor([0.0, 0.0, 50.0]))
    assert cam[0, 2] < 50  # the nose points at the camera
    assert cam[1, 0] > 0  # the subject's left eye is on the image's right
    assert cam[2, 1] < 0  # the forehead is up (image y points down)


def test_euler_round_trip_and_orthonormality():
    generator = torch.Generator().manual_seed(0)
    yaw, pitch, roll = (torch.rand(50, generator=generator) * 160 - 80 for _ in range(3))
    rotation = camera.euler_to_rotation(yaw, pitch, roll)
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5, rtol=0)
    back = camera.rotation_to_euler(rotation)
    for a, b in zip(back, (yaw, pitch, roll)):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=0)


def test_angle_directions_as_documented():
    nose = torch.tensor([[0.0, 0.0, 1.0]])
    t = torch.zeros(3)
    assert camera.to_camera(nose, camera.euler_to_rotation(30.0, 0.0, 0.0), t)[0, 0] > 0  # yaw: towards image right
    assert camera.to_camera(nose, camera.euler_to_rotation(0.0, 30.0, 0.0), t)[0, 1] < 0  # pitch: chin up, nose up
    x_axis = torch.tensor([[1.0, 0.0, 0.0]])
    assert camera.to_camera(x_axis, camera.euler_to_rotation(0.0, 0.0, 30.0), t)[0, 1] > 0  # roll: clockwise


def test_project_unproject_round_trip():
    intrinsics = camera.intrinsics_from_fov(torch.tensor([40.0, 70.0]), 256)
    points = torch.tensor([[[1.0, -2.0, 30.0], [0.0, 0.0, 10.0]], [[3.0, 1.0, 20.0], [-5.0, 4.0, 60.0]]])
    pixels = camera.project(points, intrinsics)
    torch.testing.assert_close(camera.unproject(pixels, points[..., 2], intrinsics), points)
    assert torch.allclose(pixels[0, 1], torch.tensor([128.0, 128.0]))  # the optical axis hits the image centre


def test_fov_round_trip_and_range():
    intrinsics = camera.intrinsics_from_fov(torch.tensor(60.0), 128)
    assert camera.fov_from_focal(intrinsics[0], 128).item() == pytest.approx(60.0, abs=1e-4)
    with pytest.raises(ValueError, match="field of view"):
        camera.intrinsics_from_fov(190.0, 128)


def test_geodesic_distance():
    a = camera.euler_to_rotation(0.0, 0.0, 0.0)
    b = camera.euler_to_rotation(25.0, 0.0, 0.0)
    assert camera.rotation_geodesic_degrees(a, b).item() == pytest.approx(25.0, abs=1e-3)
