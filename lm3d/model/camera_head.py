"""γ, the camera and head-pose head, and the camera that projects the 3D head's points into the crop.

Conventions (``lm3d.face.camera`` defines them; this is where the 3D head meets them):

* Canonical points X are in centimetres, ``lm3d.face`` axes: x to the subject's left, y up, z out of the face.
* Camera frame: OpenCV axes, x right, y down, z forward. Head pose (R, t) maps X into it as
  X_cam = R @ diag(1, -1, -1) @ X + t, so R = I is a frontal, upright face looking into the camera; t is where
  the canonical origin (about 3 cm behind the face surface) sits, in cm; its depth t_z is always positive.
* Rotation from 6 numbers (Zhou et al. 2019; PyTorch3D's convention): two 3-vectors a1, a2 go through
  Gram-Schmidt, b1 = a1/|a1|, b2 = (a2 - (b1.a2) b1)/|.|, b3 = b1 x b2, and b1, b2, b3 are the **rows** of R;
  back, the 6 numbers are R's first two rows.
* The crop camera: a pinhole in **normalised crop coordinates** (the crop's corners at +-1, x right, y down,
  ``lm3d.model.crop``): n = f_c (x, y) / z + c, one focal f_c (square pixels) and a principal point c. Its axes
  are the image camera's turned about the optical axis by the crop's in-plane rotation.
* The image camera: intrinsics (fx, fy, cx, cy) in pixels of the original image (pixel centres at i + 0.5),
  found through the crop transform A (x = A [n, 1]): f_image = s f_c with s A's scale, (cx, cy) = A [c, 1], and
  R, t turned back by the crop's in-plane rotation. Exact for a box or similarity crop; for an affine crop the
  2D landmarks stay exact and the reported camera is that of the nearest similarity.

What γ predicts, from the image features f (every output starts at a prior, its layer's weights at zero):
the apparent rotation R_a (6D, starts frontal), where the canonical origin projects in the crop, n0 (starts at
the centre), the image scale σ = f_c / depth in crop units per cm (log, starts at the frontal template's
1/11 cm), and log f_c (starts at ``FOCAL_PRIOR``). Depth is then log-parameterised, t_z = f_c / σ > 0, and
t = t_z ((n0 - c) / f_c, 1). Predicting σ rather than t_z gives γ the quantity the image shows directly;
f_c and t_z then trade off along f_c / t_z = σ, which only perspective (a close face) can settle.

The principal point (``principal``): ``"crop"`` (the default) puts it at the crop's centre, c = 0 (img2pose's
per-box convention); ``"image"`` fixes it at the centre of the original image (where a real camera's nearly
always is, and SynthFaces' always is), c = A^-1 (W/2, H/2). R_a is the pose as seen along the ray through n0,
and R = R_ray R_a, with R_ray the smallest rotation taking the optical axis onto the ray from c through n0: a face
in the corner of a wide-angle image that looks straight at the camera has R_a = I but a true yaw and pitch.
The choice has been measured twice (crop-3d, seed 0; docs/results/regime.md). In the legacy preset the head learned
worse with the principal point at the image centre (synth300w NME 23.1 against 19.7, rotation error 21.0 against
18.7 degrees): the ray's angle then depends on the focal, which 2D landmarks barely fix. In the standard preset, with
the 2D assistant (``ModelConfig.assist_2d``), the image centre costs little NME (8.27 against 8.12) and takes the
rotation error from 11.8 to 7.8 degrees, since a crop-centred camera leaves the ray to an off-centre face out of the
pose; the standard preset therefore sets ``principal="image"``, and the default stays ``"crop"`` for the others.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..face import camera
from .crop import to_crop

TEMPLATE_SCALE_CM = 11.0  # a frontal face's half-width in a box crop, in canonical cm: the image scale's prior
# f_c in crop half-widths (a box crop's): the median over SynthFaces' training sources is 5.9-7.2, 6 is a camera
# prior of the kind a real system takes from its typical lens and distance (no image's focal is a target)
FOCAL_PRIOR = 6.0
LOG_FOCAL_RANGE = (math.log(0.25), math.log(400.0))  # clamps keep exp() finite while a head is untrained
LOG_SCALE_RANGE = (math.log(1e-3), math.log(10.0))
PRINCIPALS = ("crop", "image")
MIN_CROP_DET = 1e-6  # px^2: a crop transform this close to singular maps every point to one line


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(...,6) -> (...,3,3) proper rotations: Gram-Schmidt on the two 3-vectors, which become R's first two rows."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    n1 = a1.norm(dim=-1, keepdim=True)
    b1 = a1 / n1.clamp_min(1e-12)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    n2 = a2.norm(dim=-1, keepdim=True)
    if not torch.isfinite(d6).all() or (n1 < 1e-6).any() or (n2 < 1e-6).any():
        raise ValueError("a 6D rotation needs two finite, non-parallel 3-vectors; got a zero, parallel or NaN pair")
    b2 = a2 / n2
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2)], -2)


def matrix_to_rotation_6d(rotation: torch.Tensor) -> torch.Tensor:
    """(...,3,3) -> (...,6): the first two rows (the inverse of :func:`rotation_6d_to_matrix` on rotations)."""
    return rotation[..., :2, :].flatten(-2)


def ray_rotation(direction: torch.Tensor) -> torch.Tensor:
    """(B,3) directions with z > 0 -> (B,3,3) the smallest rotation taking the optical axis (0, 0, 1) onto each."""
    d = direction / direction.norm(dim=-1, keepdim=True)
    x, y, z = d.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([torch.stack([zero, zero, x], -1), torch.stack([zero, zero, y], -1),
                     torch.stack([-x, -y, zero], -1)], -2)  # [v]_x for v = (0, 0, 1) x d = (-y, x, 0)
    return torch.eye(3, dtype=d.dtype, device=d.device) + k + k @ k / (1 + z)[:, None, None]


class CameraHead(nn.Module):
    """γ: (B,F) image features -> the apparent rotation, n0, log σ and log f_c (see the module docstring)."""

    OUTPUTS = 10  # 6 rotation + 2 centre + 1 log scale + 1 log focal

    def __init__(self, feature_dim: int, hidden: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, self.OUTPUTS))
        nn.init.zeros_(self.mlp[-1].weight)
        with torch.no_grad():
            self.mlp[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 0, -math.log(TEMPLATE_SCALE_CM),
                                                  math.log(FOCAL_PRIOR)]))

    def forward(self, features: torch.Tensor) -> dict:
        if not torch.isfinite(features).all():
            raise ValueError("the camera head got NaN or infinite image features; check the input images and "
                             "the checkpoint's weights")
        out = self.mlp(features).float()
        return {"rotation_apparent": rotation_6d_to_matrix(out[:, :6]), "centre": out[:, 6:8],
                "log_scale": out[:, 8].clamp(*LOG_SCALE_RANGE), "log_focal": out[:, 9].clamp(*LOG_FOCAL_RANGE)}

    def check(self) -> None:
        """Raise a ValueError if the rotation bias (the pose of an untrained or blank input) is not a rotation."""
        rotation_6d_to_matrix(self.mlp[-1].bias[:6].detach())


def check_crop(transform: torch.Tensor) -> torch.Tensor:
    """(B,) determinants of the crops' 2x2 parts; a ValueError when a crop is degenerate (or NaN)."""
    det = torch.linalg.det(transform[:, :, :2].float())
    if not torch.isfinite(transform).all() or (det.abs() < MIN_CROP_DET).any():
        raise ValueError(f"degenerate crop transform (|det| {det.abs().min().item():.3g} px^2, or NaN): the crop "
                         "has no area, so no camera can be read through it")
    return det


def crop_camera(head: dict, transform: torch.Tensor, image_size: tuple[int, int], principal: str = "crop") -> dict:
    """The crop camera: rotation (B,3,3), translation (B,3) cm, intrinsics (B,4) in normalised crop units."""
    if principal not in PRINCIPALS:
        raise ValueError(f"unknown principal point {principal!r}; known: {', '.join(PRINCIPALS)}")
    check_crop(transform)
    transform = transform.float()
    focal = head["log_focal"].exp()
    if principal == "image":
        height, width = image_size
        centre = torch.tensor([[0.5 * width, 0.5 * height]], device=transform.device).expand(len(transform), 2)
        c = to_crop(centre[:, None], transform)[:, 0]
    else:
        c = torch.zeros(len(transform), 2, device=transform.device)
    ray = torch.cat([(head["centre"] - c) / focal[:, None], torch.ones_like(focal)[:, None]], -1)
    translation = ray * (focal / head["log_scale"].exp())[:, None]
    rotation = ray_rotation(ray) @ head["rotation_apparent"]
    return {"rotation": rotation, "translation": translation,
            "intrinsics": torch.cat([focal[:, None], focal[:, None], c], -1)}


def project_to_crop(points: torch.Tensor, camera_in_crop: dict, min_depth_cm: float = 1.0) -> torch.Tensor:
    """Canonical points (B,K,3) cm -> (B,K,2) normalised crop coordinates through the crop camera."""
    posed = camera.to_camera(points, camera_in_crop["rotation"], camera_in_crop["translation"])
    # a point at or behind the camera has no image; keep its depth positive so one bad point cannot make NaN
    posed = torch.cat([posed[..., :2], posed[..., 2:].clamp_min(min_depth_cm)], -1)
    return camera.project(posed, camera_in_crop["intrinsics"])


def image_camera(camera_in_crop: dict, transform: torch.Tensor) -> dict:
    """The crop camera seen from the original image: rotation, translation (cm), intrinsics (fx, fy, cx, cy) px."""
    transform = transform.float()
    matrix = transform[:, :, :2]
    p = 0.5 * (matrix[:, 0, 0] + matrix[:, 1, 1])  # nearest similarity s (cos φ, sin φ) = (p, q)
    q = 0.5 * (matrix[:, 1, 0] - matrix[:, 0, 1])
    if (check_crop(transform) < 0).any():
        raise ValueError("the crop is mirrored (det < 0); a mirrored image has no camera with a proper rotation")
    s = torch.sqrt(p ** 2 + q ** 2)
    cos, sin, zero, one = p / s, q / s, torch.zeros_like(p), torch.ones_like(p)
    roll = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)
    focal, c = camera_in_crop["intrinsics"][:, 0], camera_in_crop["intrinsics"][:, 2:]
    centre = (matrix @ c[..., None])[..., 0] + transform[:, :, 2]
    return {"rotation": roll @ camera_in_crop["rotation"],
            "translation": (roll @ camera_in_crop["translation"][..., None])[..., 0],
            "intrinsics": torch.cat([(s * focal)[:, None], (s * focal)[:, None], centre], -1)}
