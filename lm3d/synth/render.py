"""SynthFaces: synthetic face images with exact 2D, 3D, pose, camera and visibility ground truth.

    >>> from lm3d.synth import SynthFaces
    >>> data = SynthFaces("synth300w", "train", size=1000, seed=0, image_size=256)
    >>> item = data[0]                       # a dict; item["image"] is uint8 (3,256,256) RGB
    >>> batch = data.render([0, 1, 2, 3])    # the batched path (pass device="cuda" on a GPU)
    >>> extra = data.landmarks(0, layout="wflw98")   # any layout or query set for the same face

A sample is a pure function of (source, split, index, seed): ``lm3d.synth.scene`` draws its random
numbers, ``lm3d.synth.facemodel`` deforms the canonical face, ``lm3d.face.camera`` poses and projects it,
``lm3d.synth.rasterizer`` and ``lm3d.synth.appearance`` paint it. ``landmarks2d`` is the projection of
``points3d`` plus the source's annotation noise (``annotation_noise``, in pixels, is returned
too, so the exact projection is ``landmarks2d - annotation_noise``).
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils.data import Dataset

from ..face import camera, layouts
from ..face.canonical import CanonicalFace
from . import appearance, facemodel, sources, textures
from .rasterizer import Covered, rasterize_covered, to_fragments
from .scene import FACE_CENTRE_CM, FACE_WIDTH_CM, sample_scene, stack

# A landmark is visible when no surface in the depth buffer lies more than the tolerance in front of
# it: 0.35 cm, plus the depth change across two pixels of a grazing surface (two pixel footprints),
# so that points on a face's outline do not flicker with the image size.
SYNTH_VERSION = 4  # bump whenever a change alters rendered samples: cached shards are keyed by it
VISIBILITY_TOLERANCE_CM = 0.35
VISIBILITY_TOLERANCE_PIXELS = 2.0
EYE_CORNERS = (33, 263)  # mesh vertices of the outer eye corners (ibug68 points 36 and 45)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024


# Face and head proxy are wound counter-clockwise seen from outside, which in image coordinates (y down)
# gives a negative signed area: culling the other sign drops the back of the skull and every surface
# that faces away from the camera before it costs any pixel work.
FRONT_FACING = -1
# diffuse light wraps a little past the terminator, as light scattered under the skin does: softer shadows
WRAP = 0.4


@lru_cache(maxsize=1)
def _face() -> CanonicalFace:
    return CanonicalFace.load()


@lru_cache(maxsize=1)
def _mesh():
    """Face and head proxy as one mesh: (triangles (T,3), face triangle count, proxy)."""
    face, proxy = _face(), facemodel.head_proxy()
    triangles = torch.cat([face.triangles, proxy.triangles + face.num_vertices])
    return triangles, face.num_triangles, proxy


@lru_cache(maxsize=1)
def _face_uv_corners() -> torch.Tensor:
    """(T,3,2) texture coordinates of each face triangle's corners."""
    return _face().uvs[_face().triangles]


@lru_cache(maxsize=1)
def _mouth() -> tuple[torch.Tensor, torch.Tensor]:
    """(T,) bool over face and proxy triangles: the mouth opening; (V,) 1 on the upper inner lip."""
    triangles, face_triangles, _ = _mesh()
    opening, upper = textures.mouth_tables(_face().triangles, _face().num_vertices)
    flags = torch.zeros(len(triangles), dtype=torch.bool)
    flags[:face_triangles] = opening
    return flags, torch.cat([upper, torch.zeros(len(facemodel.head_proxy().vertices))])


def _check_args(source, split, size, seed, image_size):
    spec = sources.get(source)
    split_id = sources.check_split(split)
    if split == "train" and not spec.train:
        raise ValueError(f"source {source!r} is test-only; use split 'val' or 'test'")
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be a non-negative integer, got {size!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(image_size, int) or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be an integer in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}], got {image_size!r}")
    return spec, split_id


class SynthFaces(Dataset):
    """A map-style dataset of synthetic faces from one source (see ``lm3d.synth.sources``)."""

    def __init__(self, source: str, split: str, size: int, seed: int = 0, image_size: int = 256,
                 convention_scale: float = 1.0):
        self.spec, self.split_id = _check_args(source, split, size, seed, image_size)
        self.source, self.split, self.size, self.seed, self.image_size = source, split, size, seed, image_size
        self.layout = layouts.get(self.spec.layout)
        # the annotators' points; convention_scale != 1 only for the experiment of how large conventions must be
        self.convention_scale = sources.check_convention_scale(convention_scale)
        self.queries, self.convention_offsets = sources.convention_points(source, self.convention_scale)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        batch = self.render([index])
        return {k: v[0] if isinstance(v, torch.Tensor) or isinstance(v, list) else v for k, v in batch.items()}

    def _check_index(self, index: int) -> int:
        if not isinstance(index, int) and not (isinstance(index, torch.Tensor) and index.ndim == 0):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        index = int(index)
        if not -self.size <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} samples")
        return index % self.size

    def scenes(self, indices) -> list[dict]:
        return [sample_scene(self.spec, self.split_id, self._check_index(i), self.seed, self.image_size,
                             len(self.layout)) for i in indices]

    def render(self, indices, device: str | torch.device = "cpu", buffers: bool = False) -> dict:
        """Render a batch; returns batched tensors plus lists for per-sample strings."""
        scenes = self.scenes(indices)
        return render_scenes(scenes, self.spec, self.queries, self.layout.name, self.image_size, device, buffers)

    def chunks(self, size: int = 128) -> list[list[int]]:
        """Consecutive index lists of at most ``size`` samples covering the whole set (render it without one huge batch)."""
        return [list(range(s, min(s + size, self.size))) for s in range(0, self.size, size)]

    def render_all(self, keys, device: str | torch.device = "cpu") -> dict:
        """Every sample, rendered a chunk at a time; the tensors of ``keys`` concatenated, on the CPU."""
        parts = [self.render(indices, device) for indices in self.chunks()]
        return {k: torch.cat([p[k].cpu() for p in parts]) for k in keys}

    def render_backgrounds(self, indices, device: str | torch.device = "cpu") -> torch.Tensor:
        """The same samples without their face: uint8 (B,3,S,S) background-only images (see :func:`render_backgrounds`)."""
        return render_backgrounds(self.scenes(indices), self.image_size, device)

    def landmarks(self, index: int, layout: str | None = None, queries=None) -> dict:
        """2D/3D landmarks of another layout or query set (triangle, barycentric) for sample ``index``.

        No convention and no annotation noise: these are the exact surface points asked for.
        """
        if (layout is None) == (queries is None):
            raise ValueError("pass exactly one of layout= or queries=")
        if layout is not None:
            chosen = layouts.get(layout)
            queries = (chosen.triangle, chosen.barycentric)
        triangle, barycentric = _face().check_surface_points(*queries)
        geometry = pose_scenes(self.scenes([index]), self.image_size)
        return project_queries(geometry, triangle, barycentric, index=0)


def pose_scenes(scenes: list[dict], image_size: int, device="cpu") -> dict:
    """Deformed, posed and projected vertices of a batch of scenes (no pixels yet)."""
    face = _face()
    identity, expression = stack(scenes, "identity"), stack(scenes, "expression")
    face_vertices = facemodel.deform(face, identity, expression)
    _, _, proxy = _mesh()
    widen = torch.stack([1 + 0.06 * identity[:, 0], 1 + 0.05 * identity[:, 1], torch.ones(len(scenes))], 1)
    hair = appearance.hair_weights(scenes, face.vertices, proxy)[:, face.num_vertices:]  # (B,P)
    volume = torch.tensor([s["hair_volume"] for s in scenes])[:, None, None]
    proxy_vertices = proxy.vertices[None] * widen[:, None] + volume * hair[..., None] * proxy.outward
    vertices = torch.cat([face_vertices, proxy_vertices], 1)
    rotation = camera.euler_to_rotation(stack(scenes, "yaw"), stack(scenes, "pitch"), stack(scenes, "roll"))
    intrinsics = camera.intrinsics_from_fov(stack(scenes, "fov"), image_size)
    depth = intrinsics[:, 0] * FACE_WIDTH_CM * widen[:, 0] / stack(scenes, "face_px")
    centre = camera.unproject(stack(scenes, "centre")[:, None], depth[:, None], intrinsics)[:, 0]
    anchor = camera.to_camera(torch.tensor([FACE_CENTRE_CM]).expand(len(scenes), 1, 3), rotation, torch.zeros(len(scenes), 3))
    translation = centre - anchor[:, 0]
    cam_vertices = camera.to_camera(vertices, rotation, translation)
    return {k: v.to(device) for k, v in dict(
        vertices=vertices, cam_vertices=cam_vertices, rotation=rotation, translation=translation,
        intrinsics=intrinsics, screen=torch.cat([camera.project(cam_vertices, intrinsics), cam_vertices[..., 2:]], -1),
    ).items()}


def project_queries(geometry: dict, triangle, barycentric, index=None) -> dict:
    """Canonical, camera-frame and projected positions of surface points on each posed face."""
    face = _face()
    corners = face.triangles.to(triangle.device)[triangle]  # (K,3) vertex ids
    weights = barycentric.to(geometry["cam_vertices"])
    cam = (geometry["cam_vertices"][:, corners] * weights[None, ..., None]).sum(-2)  # (B,K,3)
    canonical = (geometry["vertices"][:, corners] * weights[None, ..., None]).sum(-2)
    out = {"points3d": cam, "points_deformed": canonical, "intrinsics": geometry["intrinsics"],
           "landmarks2d": camera.project(cam, geometry["intrinsics"])}
    return {k: v[index] for k, v in out.items()} if index is not None else out


def _iod_and_box(geometry: dict, num_face_vertices: int):
    screen = geometry["screen"][:, :num_face_vertices, :2]
    corners = screen[:, list(EYE_CORNERS)]
    iod = (corners[:, 0] - corners[:, 1]).norm(dim=-1)
    box = torch.cat([screen.min(1).values, screen.max(1).values], -1)
    return iod, box


def render_scenes(scenes, spec, queries, layout_name, image_size, device="cpu", buffers: bool = False) -> dict:
    """Pixels and ground truth of a batch of scenes (``buffers`` adds the depth and triangle buffers)."""
    triangles, _, proxy = _mesh()
    device = torch.device(device)
    geometry = pose_scenes(scenes, image_size, device)
    triangles = triangles.to(device)
    covered = rasterize_covered(geometry["screen"], triangles, (image_size, image_size), cull=FRONT_FACING)
    face = _face()
    iod, box = _iod_and_box(geometry, face.num_vertices)
    # each occluder's mask, made once: painted into the image and used for visibility
    occluders = {i: appearance.occluder_mask(s["occluder"], box[i].cpu(), image_size)
                 for i, s in enumerate(scenes) if s["occluder"] is not None}
    images = paint(scenes, geometry, covered, triangles, proxy, occluders, image_size)
    truth = project_queries(geometry, queries[0].to(device), queries[1].to(device))
    occluded = torch.stack([_occluded(occluders.get(i), image_size, p)
                            for i, p in enumerate(truth["landmarks2d"].cpu())]).to(device)
    self_visible = _visible(truth, covered, image_size)  # hidden by no part of the face or head (occluders aside)
    visible = self_visible & ~occluded
    noise = stack(scenes, "annotation_noise").to(device) * spec.annotation_noise_iod * iod[:, None, None]
    expression = stack(scenes, "expression")
    # like 300-W's challenging subset: large yaw, heavy occlusion, a wide-open mouth or a strong mix of expressions
    challenging = (stack(scenes, "yaw").abs() > 50) | (occluded.float().mean(1).cpu() > 0.3) | \
        (expression[:, 0] > 0.6) | (expression.sum(1) > 2.0)
    extra = {}
    if buffers:
        fragments = to_fragments(covered, (len(scenes), image_size, image_size))
        extra = {"depth_buffer": fragments.depth, "triangle_buffer": fragments.triangle}
    return {
        **extra, "image": images, "landmarks2d": truth["landmarks2d"] + noise, "annotation_noise": noise,
        "visible": visible, "self_visible": self_visible, "rotation": geometry["rotation"], "translation": geometry["translation"],
        "intrinsics": geometry["intrinsics"], "points3d": truth["points3d"],
        "points_canonical": face.points(*queries)[None].expand(len(scenes), -1, -1).to(device),
        "iod": iod, "bbox": box, "identity": stack(scenes, "identity").to(device), "expression": expression.to(device),
        "challenging": challenging.to(device), "source": [spec.name] * len(scenes), "layout": [layout_name] * len(scenes),
    }


def render_backgrounds(scenes, image_size: int, device="cpu") -> torch.Tensor:
    """uint8 (B,3,S,S) images of the same scenes with no face and no head: negatives for a face score.

    Background, occluder and degradations are those of the scene, so a face image and its background-only
    twin differ only by the face.
    """
    device = torch.device(device)
    triangles, _, proxy = _mesh()
    geometry = pose_scenes(scenes, image_size, device)
    _, box = _iod_and_box(geometry, _face().num_vertices)
    empty = Covered(*(torch.zeros(0, dtype=torch.long, device=device),) * 3,
                    torch.zeros(0, 3, device=device), torch.zeros(0, device=device))
    occluders = {i: appearance.occluder_mask(s["occluder"], box[i].cpu(), image_size)
                 for i, s in enumerate(scenes) if s["occluder"] is not None}
    return paint(scenes, geometry, empty, triangles.to(device), proxy, occluders, image_size)


def visibility_tolerance(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(B,K) depth tolerance (cm) of the visibility test for points at camera depth (B,K)."""
    return VISIBILITY_TOLERANCE_CM + VISIBILITY_TOLERANCE_PIXELS * depth / intrinsics[:, :1]


def _visible(truth: dict, covered: Covered, image_size: int) -> torch.Tensor:
    """In the frame, and no surface in the depth buffer more than the tolerance in front of the point."""
    xy, z = truth["landmarks2d"], truth["points3d"][..., 2]
    inside = ((xy >= 0) & (xy < image_size)).all(-1)
    row, col = _pixel_of(xy, image_size)
    image = torch.arange(xy.shape[0], device=xy.device)[:, None]
    buffer_depth = _depth_at(covered, (image * image_size + row) * image_size + col)
    return inside & (z <= buffer_depth + visibility_tolerance(z, truth["intrinsics"]))


def _depth_at(covered: Covered, pixel: torch.Tensor) -> torch.Tensor:
    """Depth of the visible surface at flat pixel indices (+inf on background): a binary search in
    the sorted covered pixels, which is all a depth buffer would tell us here."""
    if len(covered.pixel) == 0:
        return torch.full(pixel.shape, float("inf"), device=pixel.device)
    position = torch.searchsorted(covered.pixel, pixel).clamp_max_(len(covered.pixel) - 1)
    hit = covered.pixel[position] == pixel
    return torch.where(hit, covered.depth[position], float("inf"))


def _occluded(mask: torch.Tensor | None, image_size: int, points2d: torch.Tensor) -> torch.Tensor:
    """(K,) whether each point lies under the occluder mask (none: nothing is occluded)."""
    if mask is None:
        return torch.zeros(len(points2d), dtype=torch.bool)
    return mask[_pixel_of(points2d, image_size)]


def _pixel_of(xy: torch.Tensor, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, column) of the pixel containing each point (..., 2), clamped into the image."""
    xy = xy.clamp(0, image_size - 1).long()
    return xy[..., 1], xy[..., 0]


def paint(scenes, geometry, covered: Covered, triangles, proxy, occluders, image_size) -> torch.Tensor:
    """uint8 (B,3,S,S) images: textured, shaded face and head over a background, occluders, degradations.

    Light is per vertex (Gouraud): a diffuse intensity and a Blinn-Phong highlight. Head, ears, neck and hair
    take a per-vertex colour (the face texture's skin, or the hair colour); face pixels look up their texture at
    their interpolated UV, and the mouth opening is painted with its inside and teeth (:func:`_paint_mouth`).
    """
    device = covered.depth.device
    face, bank = _face(), textures.bank()
    texture = torch.tensor([s["texture"] for s in scenes])
    amount = torch.tensor([s["texture_recolour"] for s in scenes])
    factor = textures.recolour(bank.skin[texture], appearance.skin_colours(scenes), amount)  # (B,3)
    skin = (bank.skin[texture] * factor).clamp(0, 1)
    hair = appearance.HAIR[[s["hair_colour"] for s in scenes]]
    hair_weight = appearance.hair_weights(scenes, face.vertices, proxy).to(device)  # (B,V)
    on_face = (torch.arange(hair_weight.shape[1]) < face.num_vertices).to(device)
    # the face's own colour comes from its texture: its vertices carry only the hair part
    base = torch.where(on_face[:, None], 0.0, skin.to(device)[:, None])
    colours = torch.lerp(base, hair.to(device)[:, None], hair_weight[..., None])  # (B,V,3)
    light = stack(scenes, "light").to(device)
    normals = appearance.vertex_normals(geometry["cam_vertices"], triangles)
    facing_light = ((normals @ appearance.light_direction(light)[..., None])[..., 0] + WRAP).div(1 + WRAP).clamp_min(0)
    intensity = light[:, :1] + light[:, 1:2] * facing_light  # (B,V)
    intensity = intensity * _exposure(intensity, normals, geometry["cam_vertices"], face.num_vertices)[:, None]
    shine = appearance.specular(normals, geometry["cam_vertices"], light, stack(scenes, "gloss").to(device))
    tint = 255 * (1 + light[:, 4:5] * torch.tensor([1.0, 0.0, -1.0], device=device))  # (B,3), images in 0..255
    lit = (colours * intensity[..., None] + shine[..., None]) * tint[:, None]  # (B,V,3)
    texture_light = torch.where(on_face, (1 - hair_weight) * intensity, 0.0)  # (B,V)
    table = torch.cat([lit, texture_light[..., None]], -1)  # (B,V,4)
    values = _interpolate(table[:, triangles], covered.image_triangle, covered.barycentric)  # (N,4)
    painted = values[:, :3].contiguous()
    _paint_texture(painted, covered, values[:, 3:], texture.to(device), factor.to(device) * tint, triangles.shape[0])
    _paint_mouth(painted, covered, values[:, 3:], tint, triangles.shape[0])

    # Compose and degrade image by image in one reused buffer, so that each image stays in cache
    # through all of its steps; images are channels-last floats in 0..255 until the uint8 result.
    batch = len(scenes)
    backgrounds = appearance.background_views([s["background"] for s in scenes], image_size)
    pixels = image_size * image_size
    ends = torch.searchsorted(covered.pixel, torch.arange(1, batch + 1, device=device) * pixels).tolist()
    work = torch.empty(image_size, image_size, 3, device=device)
    out = torch.empty(batch, image_size, image_size, 3, dtype=torch.uint8, device=device)
    start = 0
    for i, scene in enumerate(scenes):
        image = work.copy_(backgrounds[i])
        image.view(-1, 3).index_copy_(0, covered.pixel[start:ends[i]] - i * pixels, painted[start:ends[i]])
        start = ends[i]
        if i in occluders:
            _draw_occluder(image, scene["occluder"], occluders[i])
        # via int32: in 0..255 the same truncation, and ~3x faster on CPU than a float -> uint8 cast
        out[i] = _degrade(image, scene).to(torch.int32)
    return out.permute(0, 3, 1, 2)


EXPOSED_FACE = 1.0  # mean light on the face after the camera's auto exposure
EXPOSURE_LIMITS = (0.8, 2.2)


def _exposure(intensity, normals, cam_vertices, num_face_vertices: int) -> torch.Tensor:
    """(B,) the gain of a camera that exposes for the face: it brings the mean light on the face vertices that
    face the camera to EXPOSED_FACE (within EXPOSURE_LIMITS), as photos of people are exposed for the face."""
    facing_camera = ((normals * cam_vertices).sum(-1) < 0)[:, :num_face_vertices].float()
    mean = (intensity[:, :num_face_vertices] * facing_camera).sum(1) / facing_camera.sum(1).clamp_min(1)
    return (EXPOSED_FACE / mean.clamp_min(1e-3)).clamp(*EXPOSURE_LIMITS)


def _paint_texture(painted, covered: Covered, light, texture, colour_scale, num_triangles: int) -> None:
    """Add texel * light * colour_scale to the face pixels of ``painted`` (N,3): each interpolates its UV and
    reads the nearest texel of its image's texture (``texture`` (B,), ``colour_scale`` (B,3))."""
    device = painted.device
    chosen = (covered.triangle < _face().num_triangles).nonzero().squeeze(1)
    if len(chosen) == 0:
        return
    uv = _interpolate(_face_uv_corners().to(device), covered.triangle.index_select(0, chosen),
                      covered.barycentric.index_select(0, chosen))
    bank = textures.bank()
    size = bank.size
    texel = uv.mul_(size).long().clamp_(0, size - 1)
    image = covered.image_triangle.index_select(0, chosen) // num_triangles
    rows = texture.index_select(0, image) * (size * size) + texel[:, 1] * size + texel[:, 0]
    colour = textures.texels_on(str(device)).index_select(0, rows).mul_(light.index_select(0, chosen))
    painted.index_add_(0, chosen, colour.mul_(colour_scale.index_select(0, image)))


def _paint_mouth(painted, covered: Covered, light, tint, num_triangles: int) -> None:
    """Paint the pixels of the mouth opening: its dark inside, with teeth along both lips."""
    device = painted.device
    opening, upper = _mouth()
    chosen = opening.to(device).index_select(0, covered.triangle).nonzero().squeeze(1)
    if len(chosen) == 0:
        return
    triangles, _, _ = _mesh()
    across = _interpolate(upper.to(device)[triangles.to(device)][..., None],
                          covered.triangle.index_select(0, chosen), covered.barycentric.index_select(0, chosen))
    image = covered.image_triangle.index_select(0, chosen) // num_triangles
    colour = textures.mouth_colours(across[:, 0].cpu()).to(device) * light.index_select(0, chosen)
    painted.index_copy_(0, chosen, colour * tint.index_select(0, image))


def _interpolate(corner_values: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N,C) Σ_i w_i * corner i's value: corner_values (..., 3, C) is a table whose flattened
    leading dims ``rows`` (N,) index; weights (N,3). One gather of 3C floats per pixel."""
    channels = corner_values.shape[-1]
    gathered = corner_values.reshape(-1, 3 * channels).index_select(0, rows)
    out = gathered[:, :channels] * weights[:, :1]
    out.addcmul_(gathered[:, channels:2 * channels], weights[:, 1:2])
    return out.addcmul_(gathered[:, 2 * channels:], weights[:, 2:3])


def _draw_occluder(image: torch.Tensor, spec: dict, mask: torch.Tensor) -> None:
    """Paint an occluder, plain or textured with a natural image, into a (S,S,3) image in place."""
    if spec["textured"]:
        texture = {"kind": "image", "image": spec["texture_image"], "scale": 0,
                   "offset": (spec["centre"] + 0.55) / 1.1, "flip": False}
        fill = appearance.background_views([texture], image.shape[0])[0].to(image)
    else:
        fill = (255 * torch.as_tensor(spec["colour"])).to(image).expand_as(image)
    torch.where(mask.to(image.device)[..., None], fill, image, out=image)


LUMA = (0.299, 0.587, 0.114)  # grayscale weights of R, G, B (ITU-R BT.601)


def _degrade(image: torch.Tensor, scene: dict) -> torch.Tensor:
    """Blur, grayscale, colour jitter and sensor noise of one contiguous (S,S,3) float image in
    0..255, clamped to 0..255 (may reuse ``image``'s memory)."""
    if scene["blur"] > 0:
        image = appearance.gaussian_blur(image, scene["blur"])
    if scene["grayscale"]:
        image.copy_((image @ torch.tensor(LUMA, device=image.device))[..., None].expand(-1, -1, 3))
    # colour gain, contrast and brightness folded into one affine map per channel: x * scale + offset
    # (the + 0.5 rounds in the final cast to uint8). Rows are (S*3,) with the per-channel scale
    # repeated along them: broadcasting over an inner dimension of 3 is ~8x slower on CPU.
    size = image.shape[0]
    contrast = torch.tensor(scene["contrast"], dtype=torch.float32)
    scale = (torch.as_tensor(scene["colour_gain"]) * contrast).repeat(size).to(image.device)
    offset = ((0.5 - 0.5 * contrast + scene["brightness"]) * 255 + 0.5).to(image.device)
    rows = image.view(size, -1)
    torch.addcmul(offset, rows, scale, out=rows)
    if scene["noise"] > 0:
        dy, dx = (int(v) % size for v in scene["noise_shift"])
        bank = appearance.noise_bank(size, str(image.device))
        image.add_(bank[dy:dy + size, dx:dx + size], alpha=255 * scene["noise"])
    return image.clamp_(0, 255)
