"""The image's colour at points of the predicted face's surface, and whether the camera really saw them there.

Everything the 3D head gives beyond landmarks starts here: a surface point (triangle, barycentric) of the canonical
face lies, on the predicted dense face posed by the predicted head pose, at a point of the camera frame, which the
predicted camera projects into the image (``lm3d.face.camera``: X_cam = R diag(1, -1, -1) X + t, OpenCV axes, pixels
with centres at i + 0.5). The colour there is the image's, read bilinearly.

The camera saw the point (``seen``) when

* nothing of the predicted face lies in front of it and it projects inside the image: ``lm3d.raster.visibility``'s
  test, the one the 3D head's per-landmark visibility uses (self-occlusion only: a hand is not in the mesh);
* its surface faces the camera, by more than ``min_cosine``: the cosine between the surface normal (the
  predicted mesh's smooth vertex normals, interpolated) and the direction to the camera. Near the outline one pixel
  spreads over a long strip of surface, so a grazing view tells little about the colour of each point of it.

The cosine is also each point's viewing weight, which fusing several frames weighs them by.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..face import CanonicalFace, camera
from ..inference.images import read_image
from ..io.meshes import face_mesh
from ..raster.visibility import visible_points

# 0.25 (75 degrees from head-on). On 50 synth300w test faces (256 px) sampled with the true geometry, the observed
# texels' PSNR against the texture truth (128 texels a side) rises from 25.0 dB at 0 (81 % of the face observed) to
# 27.4 dB at 0.25 (71 %); past it each further 0.1 buys about 0.3 dB for 3-7 % less of the face (28.3 dB, 55 % at 0.5)
MIN_COSINE = 0.25


class SurfaceColours(NamedTuple):
    """Per surface point: ``colour`` (K,3) float in [0, 1] (0 where not seen), ``seen`` (K,) bool, ``cosine`` (K,)
    (negative: the surface turns away from the camera)."""

    colour: torch.Tensor
    seen: torch.Tensor
    cosine: torch.Tensor


def surface_colours(image, prediction, triangle: torch.Tensor, barycentric: torch.Tensor,
                    min_cosine: float = MIN_COSINE, face: CanonicalFace | None = None) -> SurfaceColours:
    """The image's colour at the surface points (triangle (K,), barycentric (K,3)) of one image's predicted face.

    ``image``: any image ``Detector.predict`` takes (HxWx3 uint8 or float in [0, 1], grayscale, RGBA, a path);
    ``prediction``: ``Detector.predict`` of a model with a 3D head on this image, one image (not a batch)."""
    if not -1 <= min_cosine < 1:
        raise ValueError(f"min_cosine must be in [-1, 1), got {min_cosine}")
    face = face or CanonicalFace.load()
    triangle, barycentric = face.check_surface_points(triangle, barycentric)
    posed = torch.from_numpy(face_mesh(prediction, posed=True, face=face)[0]).float()  # checks the prediction
    pixels = read_image(image)
    height, width = pixels.shape[:2]
    intrinsics = prediction.intrinsics.float()
    _check_face_in_image(camera.project(posed, intrinsics), width, height)
    visible = visible_points(prediction.mesh3d.float()[None], prediction.rotation.float()[None],
                             prediction.translation.float()[None], intrinsics[None], (height, width), triangle,
                             barycentric, face)[0]
    corners = face.triangles[triangle]  # (K,3)
    weights = barycentric[..., None]
    points = (posed[corners] * weights).sum(1)
    normals = CanonicalFace(posed, face.triangles, face.uvs).vertex_normals()  # outward, as the mesh is wound
    normal = F.normalize((normals[corners] * weights).sum(1), dim=-1)
    cosine = (normal * F.normalize(-points, dim=-1)).sum(-1)
    seen = visible & (cosine > min_cosine)
    colour = _bilinear(pixels, camera.project(points, intrinsics)) * seen[:, None]
    return SurfaceColours(colour, seen, cosine)


def _check_face_in_image(projected: torch.Tensor, width: int, height: int) -> None:
    inside = ((projected[:, 0] >= 0) & (projected[:, 0] < width) & (projected[:, 1] >= 0) & (projected[:, 1] < height))
    if not inside.any():
        low, high = projected.amin(0).tolist(), projected.amax(0).tolist()
        raise ValueError(f"no part of the predicted face falls inside this {width}x{height} image (it projects to x "
                         f"{low[0]:.0f}..{high[0]:.0f}, y {low[1]:.0f}..{high[1]:.0f} px): is this the image the "
                         "prediction was made on, at the same size?")


def _bilinear(pixels: np.ndarray, xy: torch.Tensor) -> torch.Tensor:
    """(K,3) float colours of an HxWx3 uint8 image at pixel positions (K,2) (x right, y down, centres at i + 0.5)."""
    height, width = pixels.shape[:2]
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().div(255)
    grid = torch.stack([2 * xy[:, 0] / width - 1, 2 * xy[:, 1] / height - 1], -1)[None, None]
    sampled = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[0, :, 0].t()
