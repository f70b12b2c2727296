"""SynthFaces' texture truth: a face as its renderer paints it, read off in the canonical UV space.

Texture completion (``lm3d.applications.texture``) samples an image into the canonical UV space. What should it be
compared with? The bank texture (the albedo) is not what any photo shows: the image is the albedo times the light,
plus highlights, hair over the forehead, the camera's exposure and colour transform. Recovering the albedo would need
delighting, which is not what is measured. So the truth here is **the lit face as the image shows it**: for every
texel's surface point (``lm3d.raster.uv_map``), the colour :func:`lm3d.synth.paint.paint` gives that surface point in
this scene (the same texture lookup at the image's mip level, the same per-vertex light, highlight, exposure and tint,
the hair, the mouth's inside, and the image's grayscale, colour gain, contrast and brightness). ``paint`` itself
computes it, on the texels instead of the image's pixels, so the truth cannot drift from the renderer.

What happens in the image plane rather than on the face is left out: blur, sensor noise, occluders (and the
background). A sampling with the true geometry therefore differs from this truth only by what image formation
loses: pixel resolution, blur, noise, an occluder in front of the face, 8-bit colours. Texels the camera does not
see still get their colour: the renderer's light is per vertex and casts no shadows, so a hidden cheek has the colour
it would show if it were turned to the camera under the same light, which is what completing it should recover.
"""
from __future__ import annotations

import copy

import torch

from ..raster.rasterizer import Covered
from ..raster.uv_space import uv_map
from .paint import head_mesh, paint
from .render import pose_scenes

CHUNK = 32  # scenes painted at once: a 256-texel map is 42 000 texels a face
BLACK = {"kind": "plain", "grid": torch.zeros(3, 2, 2).numpy(), "grid_size": 2}  # off the face: nothing to read


def render_uv(scenes: list[dict], image_size: int, size: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(B,S,S,3) float in [0, 1]: each scene's face as its render at ``image_size`` paints it, at ``size`` x ``size``
    texels of the canonical UV space; and (S,S) bool, the texels that lie on the face (the others are meaningless).

    ``image_size`` must be the size the scenes were drawn for: it places the camera, and so the highlights."""
    if not scenes:
        raise ValueError("no scenes to render: pass at least one")
    if len(scenes) > CHUNK:
        parts = [render_uv(scenes[start:start + CHUNK], image_size, size, device) for start in range(0, len(scenes), CHUNK)]
        return torch.cat([part[0] for part in parts]), parts[0][1]
    texels = uv_map(size)
    index, triangle, barycentric = (t.to(device) for t in texels.texels())
    triangles = head_mesh()[0].to(device)
    batch = len(scenes)
    image = torch.arange(batch, device=device).repeat_interleave(len(index))
    covered = Covered(pixel=(image * size * size + index.repeat(batch)),
                      triangle=triangle.repeat(batch), image_triangle=image * len(triangles) + triangle.repeat(batch),
                      barycentric=barycentric.repeat(batch, 1).t().contiguous().t(),
                      depth=torch.ones(batch * len(index), device=device))
    plain = [_without_image_plane_effects(scene) for scene in scenes]
    geometry = pose_scenes(scenes, image_size, device)
    painted = paint(plain, geometry, covered, triangles, {}, size)  # size: the "image" is the UV map
    return painted.permute(0, 2, 3, 1).float().div(255), texels.covered.to(device)


def _without_image_plane_effects(scene: dict) -> dict:
    """The scene with no blur, noise or occluder, over a black background: the face's own colours only."""
    plain = copy.copy(scene)
    plain.update(blur=0.0, noise=0.0, occluder=None, background=BLACK)
    return plain
