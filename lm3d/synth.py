"""SynthFaces: synthetic face images with exact 2D, 3D, pose, camera and visibility ground truth.

    >>> from lm3d.synth import SynthFaces
    >>> data = SynthFaces("synth300w", "train", size=1000, seed=0, image_size=256)
    >>> item = data[0]                       # a dict; item["image"] is uint8 (3,256,256) RGB
    >>> batch = data.render([0, 1, 2, 3])    # the batched path (pass device="cuda" on a GPU)
    >>> extra = data.landmarks(0, layout="wflw98")   # any layout or query set for the same face

A sample is a pure function of (source, split, index, seed): ``lm3d.scene`` draws its random
numbers, ``lm3d.facemodel`` deforms the canonical face, ``lm3d.camera`` poses and projects it,
``lm3d.rasterizer`` and ``lm3d.appearance`` paint it. ``landmarks2d`` is the projection of
``points3d`` plus the source's annotation noise (``annotation_noise``, in pixels, is returned
too, so the exact projection is ``landmarks2d - annotation_noise``).
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils.data import Dataset

from . import appearance, camera, facemodel, layouts, sources
from .face import CanonicalFace
from .rasterizer import Fragments, rasterize
from .scene import FACE_CENTRE_CM, FACE_WIDTH_CM, sample_scene, stack

# A landmark is visible when no surface in the depth buffer lies more than the tolerance in front of
# it: 0.35 cm, plus the depth change across two pixels of a grazing surface (two pixel footprints),
# so that points on a face's outline do not flicker with the image size.
SYNTH_VERSION = 2  # bump whenever a change alters rendered samples: cached shards are keyed by it
VISIBILITY_TOLERANCE_CM = 0.35
VISIBILITY_TOLERANCE_PIXELS = 2.0
EYE_CORNERS = (33, 263)  # mesh vertices of the outer eye corners (ibug68 points 36 and 45)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024


# Face and head proxy are wound counter-clockwise seen from outside, which in image coordinates (y down)
# gives a negative signed area: culling the other sign drops the back of the skull and every surface
# that faces away from the camera before it costs any pixel work.
FRONT_FACING = -1
_BUFFERS: dict = {}


def _reusable_buffers(batch: int, image_size: int, device: torch.device):
    """Rasterizer outputs kept between calls of one shape (saves allocating ~100 MB per batch)."""
    key = (batch, image_size, str(device))
    if key not in _BUFFERS:
        _BUFFERS.clear()
        shape = (batch, image_size, image_size)
        _BUFFERS[key] = Fragments(torch.empty(shape, dtype=torch.long, device=device),
                                  torch.empty(*shape, 3, device=device), torch.empty(shape, device=device))
    return _BUFFERS[key]


@lru_cache(maxsize=1)
def _face() -> CanonicalFace:
    return CanonicalFace.load()


@lru_cache(maxsize=1)
def _mesh():
    """Face and head proxy as one mesh: (triangles (T,3), face triangle count, proxy)."""
    face, proxy = _face(), facemodel.head_proxy()
    triangles = torch.cat([face.triangles, proxy.triangles + face.num_vertices])
    return triangles, face.num_triangles, proxy


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
    """A map-style dataset of synthetic faces from one source (see ``lm3d.sources``)."""

    def __init__(self, source: str, split: str, size: int, seed: int = 0, image_size: int = 256):
        self.spec, self.split_id = _check_args(source, split, size, seed, image_size)
        self.source, self.split, self.size, self.seed, self.image_size = source, split, size, seed, image_size
        self.layout = layouts.get(self.spec.layout)
        self.queries, self.convention_offsets = sources.convention_points(source)

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
    vertices = torch.cat([face_vertices, proxy.vertices[None] * widen[:, None]], 1)
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
    triangles, face_triangles, proxy = _mesh()
    device = torch.device(device)
    geometry = pose_scenes(scenes, image_size, device)
    triangles = triangles.to(device)
    fragments = rasterize(geometry["screen"], triangles, (image_size, image_size), cull=FRONT_FACING,
                          out=None if buffers else _reusable_buffers(len(scenes), image_size, device))
    face = _face()
    iod, box = _iod_and_box(geometry, face.num_vertices)
    # each occluder's mask, made once: painted into the image and used for visibility
    occluders = {i: appearance.occluder_mask(s["occluder"], box[i].cpu(), image_size)
                 for i, s in enumerate(scenes) if s["occluder"] is not None}
    images = paint(scenes, geometry, fragments, triangles, face_triangles, proxy, occluders, image_size)
    truth = project_queries(geometry, queries[0].to(device), queries[1].to(device))
    occluded = torch.stack([_occluded(occluders.get(i), image_size, p)
                            for i, p in enumerate(truth["landmarks2d"].cpu())]).to(device)
    visible = _visible(truth, fragments, image_size) & ~occluded
    noise = stack(scenes, "annotation_noise").to(device) * spec.annotation_noise_iod * iod[:, None, None]
    expression = stack(scenes, "expression")
    # like 300-W's challenging subset: large yaw, heavy occlusion, a wide-open mouth or a strong mix of expressions
    challenging = (stack(scenes, "yaw").abs() > 50) | (occluded.float().mean(1).cpu() > 0.3) | \
        (expression[:, 0] > 0.6) | (expression.sum(1) > 2.0)
    extra = {"depth_buffer": fragments.depth, "triangle_buffer": fragments.triangle} if buffers else {}
    return {
        **extra, "image": images, "landmarks2d": truth["landmarks2d"] + noise, "annotation_noise": noise,
        "visible": visible, "rotation": geometry["rotation"], "translation": geometry["translation"],
        "intrinsics": geometry["intrinsics"], "points3d": truth["points3d"],
        "points_canonical": face.points(*queries)[None].expand(len(scenes), -1, -1).to(device),
        "iod": iod, "bbox": box, "identity": stack(scenes, "identity").to(device), "expression": expression.to(device),
        "challenging": challenging.to(device), "source": [spec.name] * len(scenes), "layout": [layout_name] * len(scenes),
    }


def visibility_tolerance(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(B,K) depth tolerance (cm) of the visibility test for points at camera depth (B,K)."""
    return VISIBILITY_TOLERANCE_CM + VISIBILITY_TOLERANCE_PIXELS * depth / intrinsics[:, :1]


def _visible(truth: dict, fragments, image_size: int) -> torch.Tensor:
    """In the frame, and no surface in the depth buffer more than the tolerance in front of the point."""
    xy, z = truth["landmarks2d"], truth["points3d"][..., 2]
    inside = ((xy >= 0) & (xy < image_size)).all(-1)
    col = xy[..., 0].clamp(0, image_size - 1).long()
    row = xy[..., 1].clamp(0, image_size - 1).long()
    batch = torch.arange(xy.shape[0], device=xy.device)[:, None]
    buffer_depth = fragments.depth[batch, row, col]
    return inside & (z <= buffer_depth + visibility_tolerance(z, truth["intrinsics"]))


def _occluded(mask: torch.Tensor | None, image_size: int, points2d: torch.Tensor) -> torch.Tensor:
    """(K,) whether each point lies under the occluder mask (none: nothing is occluded)."""
    if mask is None:
        return torch.zeros(len(points2d), dtype=torch.bool)
    col = points2d[:, 0].clamp(0, image_size - 1).long()
    row = points2d[:, 1].clamp(0, image_size - 1).long()
    return mask[row, col]


def paint(scenes, geometry, fragments, triangles, face_triangles, proxy, occluders, image_size) -> torch.Tensor:
    """uint8 (B,3,S,S) images: shaded face and head over a background, occluders, degradations.

    Shading is Lambertian per vertex (Gouraud); per pixel we interpolate, from one gather of the
    three corners, the lit skin/hair colour, the light (for painted regions) and the UV.
    """
    device = fragments.depth.device
    batch, num_vertices = len(scenes), geometry["cam_vertices"].shape[1]
    face = _face()
    skin = appearance.skin_colours(scenes)
    hair = appearance.HAIR[[s["hair_colour"] for s in scenes]]
    amount = torch.tensor([s["hair_amount"] for s in scenes])
    hairline = torch.tensor([s["hairline"] for s in scenes])[:, None]
    on_forehead = ((face.vertices[None, :, 1] - hairline) / 0.6).clamp(0, 1)  # (B,468): hair over the forehead
    hair_weight = (torch.cat([on_forehead, proxy.hair.expand(batch, -1)], 1) * amount[:, None]).to(device)
    colours = torch.lerp(skin.to(device)[:, None], hair.to(device)[:, None], hair_weight[..., None])  # (B,V,3)
    light = stack(scenes, "light").to(device)
    normals = appearance.vertex_normals(geometry["cam_vertices"], triangles)
    facing_light = (normals @ appearance.light_direction(light)[..., None])[..., 0].clamp_min(0)
    tint = 1 + light[:, 4:5] * torch.tensor([1.0, 0.0, -1.0], device=device)  # (B,3)
    light_rgb = (light[:, :1] + light[:, 1:2] * facing_light)[..., None] * tint[:, None]  # (B,V,3)
    uvs = torch.cat([face.uvs, torch.zeros(num_vertices - face.num_vertices, 2)]).to(device)  # proxy: blank texel
    per_vertex = torch.cat([colours * light_rgb, light_rgb, uvs.expand(batch, -1, -1)], -1)  # (B,V,8)

    height, width = fragments.triangle.shape[1:]
    flat = (fragments.triangle.view(-1) >= 0).nonzero().squeeze(1)  # covered pixels, image-major order
    image_of = flat // (height * width)
    corners = triangles.index_select(0, fragments.triangle.view(-1).index_select(0, flat))  # (N,3)
    weights = fragments.barycentric.view(-1, 3).index_select(0, flat)
    gathered = per_vertex.view(-1, 8).index_select(0, (image_of[:, None] * num_vertices + corners).view(-1))
    pixel = (gathered.view(-1, 3, 8) * weights[..., None]).sum(1)  # (N,8): lit colour, light, uv
    masks = appearance.region_masks_channels_last().to(device)  # (S*S,R)
    size = appearance.UV_SIZE
    texel = (pixel[:, 6:8] * size).long().clamp_(0, size - 1)
    region_weights = masks.index_select(0, texel[:, 1] * size + texel[:, 0])  # (N,R)
    region_rgb = appearance.region_colours(scenes, skin).to(device)  # (B,R,3)
    painted = torch.empty(len(flat), 3, device=device)
    counts = torch.bincount(image_of, minlength=batch).tolist()  # pixels come image by image
    for i, (out, m, rgb) in enumerate(zip(painted.split(counts), region_weights.split(counts), pixel[:, :6].split(counts))):
        out.copy_(rgb[:, :3] * (1 - m.sum(1, keepdim=True)) + rgb[:, 3:6] * (m @ region_rgb[i]))

    # images stay channels-last (B,H,W,3) floats in 0..255 until the final uint8 image
    images = appearance.backgrounds([s["background"] for s in scenes], image_size).to(device).float()
    images.view(-1, 3).index_copy_(0, flat, painted.mul_(255))
    for i, mask in occluders.items():
        images[i] = _draw_occluder(images[i], scenes[i]["occluder"], mask, image_size)
    return _degrade(images, scenes).permute(0, 3, 1, 2)


def _draw_occluder(image, spec, mask, image_size):
    mask = mask.to(image.device)
    if spec["textured"]:
        fill = appearance.backgrounds([{"kind": "image", "image": spec["texture_image"], "scale": 0,
                                        "offset": (spec["centre"] + 0.55) / 1.1, "flip": False}], image_size)[0].float()
    else:
        fill = (255 * torch.as_tensor(spec["colour"])).expand_as(image)
    return torch.where(mask[..., None], fill.to(image.device), image)


def _degrade(images: torch.Tensor, scenes) -> torch.Tensor:
    """Blur, colour jitter, grayscale and sensor noise on (B,H,W,3) floats in 0..255, then quantise to uint8."""
    device, size = images.device, images.shape[1]
    # blur images in groups of equal sigma (rounded to 0.1 px): one convolution per group
    groups: dict[float, list[int]] = {}
    for i, s in enumerate(scenes):
        if s["blur"] > 0:
            groups.setdefault(round(s["blur"], 1), []).append(i)
    for sigma, members in groups.items():
        chosen = torch.tensor(members, device=device)
        blurred = appearance.gaussian_blur(images.index_select(0, chosen).permute(0, 3, 1, 2), sigma)
        images.index_copy_(0, chosen, blurred.permute(0, 2, 3, 1))
    gray = torch.tensor([s["grayscale"] for s in scenes], device=device)
    if gray.any():
        images[gray] = (images[gray] @ torch.tensor([0.299, 0.587, 0.114], device=device))[..., None].expand(-1, -1, -1, 3)
    # colour gain, contrast and brightness folded into one affine map per channel: x * scale + offset
    # (images are in 0..255; the + 0.5 rounds in the final cast)
    contrast = stack(scenes, "contrast")[:, None]
    scale = stack(scenes, "colour_gain") * contrast
    offset = ((0.5 - 0.5 * contrast + stack(scenes, "brightness")[:, None]) * 255 + 0.5).expand(-1, 3)
    images.mul_(scale.to(device)[:, None, None]).add_(offset.to(device)[:, None, None])
    bank = appearance.noise_bank(size, str(device))
    for i, s in enumerate(scenes):
        if s["noise"] > 0:
            dy, dx = (int(v) % size for v in s["noise_shift"])
            images[i].add_(bank[dy:dy + size, dx:dx + size], alpha=255 * s["noise"])
    return images.clamp_(0, 255).to(torch.uint8)
