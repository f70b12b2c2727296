"""SynthFaces: synthetic face images with exact 2D, 3D, pose, camera and visibility ground truth.

    >>> from lm3d.synth import SynthFaces
    >>> data = SynthFaces("synth300w", "train", size=1000, seed=0, image_size=256)
    >>> item = data[0]                       # a dict; item["image"] is uint8 (3,256,256) RGB
    >>> batch = data.render([0, 1, 2, 3])    # the batched path (pass device="cuda" on a GPU)
    >>> extra = data.landmarks(0, layout="wflw98")   # any layout or query set for the same face

A sample is a pure function of (source, split, index, seed): ``lm3d.synth.scene`` draws its random
numbers, ``lm3d.synth.facemodel`` deforms the canonical face, ``lm3d.face.camera`` poses and projects it,
``lm3d.raster.rasterizer`` covers its pixels and ``lm3d.synth.paint`` paints them (real-photo textures from
``lm3d.synth.textures``, light and colours from ``lm3d.synth.appearance``). ``landmarks2d`` is the projection of
``points3d`` plus the source's annotation noise (``annotation_noise``, in pixels, is returned
too, so the exact projection is ``landmarks2d - annotation_noise``).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..face import camera, layouts, silhouette
from ..face.canonical import EYE_CORNERS
from ..raster.rasterizer import Covered, rasterize_covered, to_fragments
from ..raster.visibility import FRONT_FACING, visibility_tolerance
from . import appearance, facemodel, sources
from .paint import canonical_face, head_mesh, paint
from .scene import FACE_CENTRE_CM, FACE_WIDTH_CM, sample_scene, stack

SYNTH_VERSION = 5  # bump whenever a change alters rendered samples: cached shards are keyed by it
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024


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
        triangle, barycentric = canonical_face().check_surface_points(*queries)
        geometry = pose_scenes(self.scenes([index]), self.image_size)
        return project_queries(geometry, triangle, barycentric, index=0)


def pose_scenes(scenes: list[dict], image_size: int, device="cpu") -> dict:
    """Deformed, posed and projected vertices of a batch of scenes (no pixels yet)."""
    face = canonical_face()
    identity, expression = stack(scenes, "identity"), stack(scenes, "expression")
    face_vertices = facemodel.deform(face, identity, expression)
    _, _, proxy = head_mesh()
    widen = torch.stack([1 + 0.06 * identity[:, 0], 1 + 0.05 * identity[:, 1], torch.ones(len(scenes))], 1)
    hair = appearance.hair_weights(scenes, face.vertices, proxy)  # (B,V): painted, and pushed out by the volume
    volume = torch.tensor([s["hair_volume"] for s in scenes])[:, None, None]
    proxy_vertices = proxy.vertices[None] * widen[:, None] + volume * hair[:, face.num_vertices:, None] * proxy.outward
    vertices = torch.cat([face_vertices, proxy_vertices], 1)
    rotation = camera.euler_to_rotation(stack(scenes, "yaw"), stack(scenes, "pitch"), stack(scenes, "roll"))
    intrinsics = camera.intrinsics_from_fov(stack(scenes, "fov"), image_size)
    depth = intrinsics[:, 0] * FACE_WIDTH_CM * widen[:, 0] / stack(scenes, "face_px")
    centre = camera.unproject(stack(scenes, "centre")[:, None], depth[:, None], intrinsics)[:, 0]
    anchor = camera.to_camera(torch.tensor([FACE_CENTRE_CM]).expand(len(scenes), 1, 3), rotation, torch.zeros(len(scenes), 3))
    translation = centre - anchor[:, 0]
    cam_vertices = camera.to_camera(vertices, rotation, translation)
    normals = appearance.vertex_normals(cam_vertices, head_mesh()[0])  # lit by the painter, and where the silhouette lies
    return {k: v.to(device) for k, v in dict(
        hair_weight=hair, normals=normals, vertices=vertices, cam_vertices=cam_vertices, rotation=rotation,
        translation=translation,
        intrinsics=intrinsics, screen=torch.cat([camera.project(cam_vertices, intrinsics), cam_vertices[..., 2:]], -1),
    ).items()}


def project_queries(geometry: dict, triangle, barycentric, index=None) -> dict:
    """Canonical, camera-frame and projected positions of surface points on each posed face."""
    face = canonical_face()
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
    triangles, _, _ = head_mesh()
    device = torch.device(device)
    geometry = pose_scenes(scenes, image_size, device)
    triangles = triangles.to(device)
    covered = rasterize_covered(geometry["screen"], triangles, (image_size, image_size), cull=FRONT_FACING)
    face = canonical_face()
    iod, box = _iod_and_box(geometry, face.num_vertices)
    # each occluder's mask, made once: painted into the image and used for visibility
    occluders = {i: appearance.occluder_mask(s["occluder"], box[i].cpu(), image_size)
                 for i, s in enumerate(scenes) if s["occluder"] is not None}
    images = paint(scenes, geometry, covered, triangles, occluders, image_size)
    truth = project_queries(geometry, queries[0].to(device), queries[1].to(device))
    canonical = face.points(*queries)[None].expand(len(scenes), -1, -1).to(device)
    if spec.silhouette:
        truth, canonical = _follow_silhouette(truth, canonical, geometry, spec.name)
    occluded = torch.stack([_occluded(occluders.get(i), image_size, p)
                            for i, p in enumerate(truth["landmarks2d"].cpu())]).to(device)
    outward = None
    if spec.silhouette:  # look just past the outline, away from the face's centre in the image
        indices, _ = sources.silhouette_sections(spec.name)
        outward = torch.zeros_like(truth["landmarks2d"])
        centre = (box[:, None, :2] + box[:, None, 2:]) / 2
        outward[:, indices] = torch.nn.functional.normalize(truth["landmarks2d"][:, indices] - centre, dim=-1)
    # hidden by no part of the face or head (occluders aside)
    self_visible = _visible(truth, covered, image_size, outward)
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
        "visible": visible, "self_visible": self_visible, "rotation": geometry["rotation"],
        "translation": geometry["translation"],
        "intrinsics": geometry["intrinsics"], "points3d": truth["points3d"],
        "points_canonical": canonical,
        "iod": iod, "bbox": box, "identity": stack(scenes, "identity").to(device), "expression": expression.to(device),
        "challenging": challenging.to(device), "source": [spec.name] * len(scenes), "layout": [layout_name] * len(scenes),
    }


def _follow_silhouette(truth: dict, canonical: torch.Tensor, geometry: dict, source: str):
    """Move the source's silhouette points (its annotators put them on the visible outline) to where each posed
    face's surface turns away from the camera, along their cross-sections (``lm3d.face.silhouette``)."""
    face = canonical_face()
    indices, section = sources.silhouette_sections(source)
    count = face.num_vertices
    triangles = face.triangles.to(canonical.device)
    found = silhouette.silhouette(section, triangles, geometry["cam_vertices"][:, :count], geometry["normals"][:, :count])
    corners = triangles[found.triangle]  # (B,J,3)
    batch = torch.arange(len(corners), device=corners.device)[:, None, None]
    weights = found.barycentric[..., None]
    cam = (geometry["cam_vertices"][batch, corners] * weights).sum(-2)
    truth = {**truth, "points3d": truth["points3d"].clone(), "points_deformed": truth["points_deformed"].clone(),
             "landmarks2d": truth["landmarks2d"].clone()}
    truth["points3d"][:, indices] = cam
    truth["points_deformed"][:, indices] = (geometry["vertices"][batch, corners] * weights).sum(-2)
    truth["landmarks2d"][:, indices] = camera.project(cam, geometry["intrinsics"])
    canonical = canonical.clone()
    canonical[:, indices] = (face.vertices.to(canonical)[corners] * weights).sum(-2)
    return truth, canonical


def render_backgrounds(scenes, image_size: int, device="cpu") -> torch.Tensor:
    """uint8 (B,3,S,S) images of the same scenes with no face and no head: negatives for a face score.

    Background, occluder and degradations are those of the scene, so a face image and its background-only
    twin differ only by the face.
    """
    device = torch.device(device)
    triangles, _, _ = head_mesh()
    geometry = pose_scenes(scenes, image_size, device)
    _, box = _iod_and_box(geometry, canonical_face().num_vertices)
    empty = Covered(*(torch.zeros(0, dtype=torch.long, device=device),) * 3,
                    torch.zeros(0, 3, device=device), torch.zeros(0, device=device))
    occluders = {i: appearance.occluder_mask(s["occluder"], box[i].cpu(), image_size)
                 for i, s in enumerate(scenes) if s["occluder"] is not None}
    return paint(scenes, geometry, empty, triangles.to(device), occluders, image_size)


SILHOUETTE_LOOKOUT_PIXELS = 1.5


def _visible(truth: dict, covered: Covered, image_size: int, outward: torch.Tensor | None = None) -> torch.Tensor:
    """In the frame, and no surface in the depth buffer more than the tolerance in front of the point.

    A point on the silhouette sits where its own surface grazes the view ray, so the pixel it falls in is mostly
    covered by that surface, nearer the camera. For those points (``outward``: (B,K,2) unit image directions away
    from the face, zero for the others) the depth is read SILHOUETTE_LOOKOUT_PIXELS further out, just past the
    outline: background or the head behind it when the point is seen, a nearer part of the face when it is hidden."""
    xy, z = truth["landmarks2d"], truth["points3d"][..., 2]
    inside = ((xy >= 0) & (xy < image_size)).all(-1)
    looked_at = xy if outward is None else xy + SILHOUETTE_LOOKOUT_PIXELS * outward
    row, col = _pixel_of(looked_at, image_size)
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
