"""Camera and head-pose conventions: the one place that defines them.

* Image coordinates: pixels, x right, y down, origin at the top-left corner of the top-left
  pixel, so pixel (row i, column j) has its centre at (j + 0.5, i + 0.5).
* Camera frame: OpenCV axes, x right, y down, z forward (into the scene); pinhole with square
  pixels by default, intrinsics (fx, fy, cx, cy) in pixels.
* Head pose (R, t) maps canonical points X (``lm3d.face`` axes: x to the subject's left, y up, z
  out of the face) into the camera frame as

      X_cam = R @ CANONICAL_TO_CAMERA @ X + t,   CANONICAL_TO_CAMERA = diag(1, -1, -1),

  so that **R = I is a frontal face looking into the camera**, upright, with the subject's left
  on the image's right. The fixed flip is a rotation (180 degrees about x), so R stays in SO(3).
* Euler angles (degrees) used by samplers: R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in the camera
  frame. yaw > 0 turns the face towards the image's right (the camera then sees more of the
  subject's right cheek); pitch > 0 tilts the chin up; roll > 0 turns the face clockwise in the image.
"""
from __future__ import annotations

import torch

CANONICAL_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def intrinsics_from_fov(fov_degrees, image_size: int, principal_offset=(0.0, 0.0)) -> torch.Tensor:
    """(...,4) intrinsics (fx, fy, cx, cy) for a horizontal field of view on a square image."""
    fov = torch.as_tensor(fov_degrees, dtype=torch.float32)
    if not ((fov > 0) & (fov < 180)).all():
        raise ValueError(f"field of view must be in (0, 180) degrees, got {fov}")
    focal = 0.5 * image_size / torch.tan(torch.deg2rad(fov) / 2)
    cx = torch.full_like(focal, image_size / 2) + principal_offset[0]
    cy = torch.full_like(focal, image_size / 2) + principal_offset[1]
    return torch.stack([focal, focal, cx, cy], dim=-1)


def project(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Camera-frame points (...,K,3) to pixels (...,K,2) with intrinsics (...,4)."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    z = points[..., 2]
    u = fx[..., None] * points[..., 0] / z + cx[..., None]
    v = fy[..., None] * points[..., 1] / z + cy[..., None]
    return torch.stack([u, v], dim=-1)


def unproject(pixels: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Pixels (...,K,2) at camera depth (...,K) back to camera-frame points (...,K,3)."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    x = (pixels[..., 0] - cx[..., None]) / fx[..., None] * depth
    y = (pixels[..., 1] - cy[..., None]) / fy[..., None] * depth
    return torch.stack([x, y, depth], dim=-1)


def to_camera(points: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Canonical points (...,K,3) into the camera frame with pose R (...,3,3), t (...,3)."""
    flipped = points @ CANONICAL_TO_CAMERA.to(points)
    return flipped @ rotation.transpose(-1, -2) + translation[..., None, :]


def euler_to_rotation(yaw, pitch, roll) -> torch.Tensor:
    """R = Rz(roll) Ry(yaw) Rx(pitch) (degrees) for batched angles, shape (...,3,3)."""
    yaw, pitch, roll = (torch.deg2rad(torch.as_tensor(a, dtype=torch.float32)) for a in (yaw, pitch, roll))
    yaw, pitch, roll = torch.broadcast_tensors(yaw, pitch, roll)
    zero, one = torch.zeros_like(yaw), torch.ones_like(yaw)

    def matrix(rows):
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    # Ry with a minus sign so that yaw > 0 turns the nose (-z in the camera frame) towards +x
    ry = matrix([[yaw.cos(), zero, -yaw.sin()], [zero, one, zero], [yaw.sin(), zero, yaw.cos()]])
    # Rx so that pitch > 0 lifts the chin: the nose (pointing at -z) moves towards -y (image up)
    rx = matrix([[one, zero, zero], [zero, pitch.cos(), pitch.sin()], [zero, -pitch.sin(), pitch.cos()]])
    rz = matrix([[roll.cos(), -roll.sin(), zero], [roll.sin(), roll.cos(), zero], [zero, zero, one]])
    return rz @ ry @ rx


def rotation_to_euler(rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of :func:`euler_to_rotation` (degrees), valid for |yaw| < 90."""
    # the last row of Rz Ry Rx is (sin yaw, -cos yaw sin pitch, cos yaw cos pitch)
    yaw = torch.asin(rotation[..., 2, 0].clamp(-1, 1))
    pitch = torch.atan2(-rotation[..., 2, 1], rotation[..., 2, 2])
    roll = torch.atan2(rotation[..., 1, 0], rotation[..., 0, 0])
    return tuple(torch.rad2deg(a) for a in (yaw, pitch, roll))


def rotation_geodesic_degrees(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (degrees) of the rotation a^T b, the geodesic distance on SO(3)."""
    trace = (a.transpose(-1, -2) @ b).diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.rad2deg(torch.acos(((trace - 1) / 2).clamp(-1.0, 1.0)))


def check_rotation(rotation: torch.Tensor, tolerance: float = 1e-3, what: str = "rotation") -> torch.Tensor:
    """``rotation`` (...,3,3) if every matrix is a proper rotation (R^T R = I, det R = +1), else a ValueError.

    A reflection (det -1), a scaled or sheared matrix, or NaN would silently mirror or distort a head pose.
    """
    rotation = torch.as_tensor(rotation)
    if rotation.shape[-2:] != (3, 3):
        raise ValueError(f"{what} must have shape (...,3,3), got {tuple(rotation.shape)}")
    r = rotation.double()
    if not torch.isfinite(r).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    orthogonality = (r.transpose(-1, -2) @ r - torch.eye(3, dtype=r.dtype)).abs().amax().item()
    det = torch.linalg.det(r)
    if orthogonality > tolerance or (det - 1).abs().amax().item() > tolerance:
        raise ValueError(f"{what} is not a rotation: |R^T R - I| reaches {orthogonality:.3g} and det R is "
                         f"{det.flatten()[(det - 1).abs().flatten().argmax()].item():.3g} (a rotation has 0 and +1)")
    return rotation


def fov_from_focal(focal: torch.Tensor, image_size: int) -> torch.Tensor:
    return torch.rad2deg(2 * torch.atan(image_size / (2 * focal)))


__all__ = ["CANONICAL_TO_CAMERA", "intrinsics_from_fov", "project", "unproject", "to_camera",
           "euler_to_rotation", "rotation_to_euler", "rotation_geodesic_degrees", "check_rotation", "fov_from_focal"]
