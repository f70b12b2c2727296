"""A vectorised z-buffer triangle rasterizer in pure torch (CPU or CUDA, follows the inputs).

Conventions: image coordinates, x right, y down, origin at the top-left corner of the top-left
pixel, so pixel (row i, column j) has its centre at (j + 0.5, i + 0.5). A pixel is covered when
its centre lies inside a triangle, either winding; centres within ``EDGE_EPS`` px of an edge count
as inside, so shared edges leave no cracks. Screen-space barycentrics λ are taken at the centre;
the weights returned are perspective-correct, w_i = (λ_i/z_i) / Σ_j λ_j/z_j, and depth = 1/Σ_j λ_j/z_j.
The nearest triangle wins; on an exact depth tie the lower triangle index wins.

Algorithm, with no loop over triangles or pixels: (1) split each (image, triangle) at its middle
vertex into a top and a bottom half, each bounded by a left and a right edge that are linear in y;
(2) expand halves into rows and intersect the two edges with each row's centre line to get the
exact column span (a scanline), so (3) expanding rows into pixels yields covered pixels only;
(4) 1/z is affine on screen, so each fragment's 1/z is one multiply-add; it is packed with the
triangle id into one int64 (positive float bits order like the floats) and a single
``scatter_reduce(amax)`` resolves the z-buffer; (5) weights and depth are computed for winners only.
``rasterize_covered`` returns the winners as a list of covered pixels (what a renderer needs);
``rasterize`` scatters that list into dense (B,H,W) buffers.
Chunks of images keep temporaries in cache; on CPU the code avoids ops that are slow there
(torch.where, stacking along a small last dim, int64 division, float -> int64 casts).
"""
from __future__ import annotations

import sys
from typing import NamedTuple

import torch

EDGE_EPS = 1e-4  # px: slack of the inside test, above float32 rounding of coordinates < 1e3 px
MIN_DEPTH = 1e-6  # triangles with a vertex at or nearer than this are skipped (behind the camera)
_F64 = torch.float64  # per-row/per-pixel offsets are folded into per-run values, exact in f64
_HIGH = 1 if sys.byteorder == "little" else 0  # the high int32 word of an int64


class Fragments(NamedTuple):
    """Dense per-pixel buffers of a batch of images."""

    triangle: torch.Tensor  # (B,H,W) long, visible triangle index, -1 on background
    barycentric: torch.Tensor  # (B,H,W,3) perspective-correct weights, zeros on background
    depth: torch.Tensor  # (B,H,W) camera-space depth of the visible surface, +inf on background


class Covered(NamedTuple):
    """The covered pixels only, in increasing flat pixel order: the sparse form of Fragments.

    A renderer that shades only covered pixels needs nothing else, and skips filling and reading
    dense (B,H,W) buffers that are mostly background."""

    pixel: torch.Tensor  # (N,) long flat pixel index (image * H + row) * W + column, increasing
    triangle: torch.Tensor  # (N,) long visible triangle index
    image_triangle: torch.Tensor  # (N,) long image * T + triangle (a row of per-image triangle tables)
    barycentric: torch.Tensor  # (N,3) perspective-correct weights: a view of a contiguous (3,N) tensor
    depth: torch.Tensor  # (N,) camera-space depth


class _Runs(NamedTuple):
    """Runs of pixels along a row, or of rows of a triangle half. `key` is the flat pixel index
    (image * H + y) * W + x of the first pixel (x = 0 for halves), `q` = 1/z at its centre."""

    tri: torch.Tensor  # int32 flat triangle index image * T + triangle
    count: torch.Tensor  # int64 number of pixels (rows for halves)
    key: torch.Tensor  # f64
    q: torch.Tensor  # f64
    qa: torch.Tensor  # f64 d(1/z)/dx
    qb: torch.Tensor | None = None  # f64 d(1/z)/dy (halves only)


def rasterize(screen_vertices: torch.Tensor, triangles: torch.Tensor, image_size: tuple[int, int],
              max_chunk_pixels: int = 1 << 18, out: Fragments | None = None, cull: int = 0) -> Fragments:
    """screen_vertices (B,V,3): x, y in pixels and z = camera depth (>0); triangles (T,3) long;
    image_size (H, W). Returns dense Fragments (see :func:`rasterize_covered` for the arguments
    and the sparse form). ``out``: Fragments from an earlier call with the same B, H, W and dtype
    to overwrite, which saves allocating (and page-faulting) ~100 MB per 64 images at 256x256."""
    covered = rasterize_covered(screen_vertices, triangles, image_size, max_chunk_pixels, cull)
    shape = (screen_vertices.shape[0], *image_size)
    return to_fragments(covered, shape, out)


def rasterize_covered(screen_vertices: torch.Tensor, triangles: torch.Tensor, image_size: tuple[int, int],
                      max_chunk_pixels: int = 1 << 18, cull: int = 0) -> Covered:
    """The covered pixels of each image (arguments as :func:`rasterize`). Images go in chunks of
    at most ``max_chunk_pixels`` pixels (at least one image). Float64 vertices give float64
    outputs, anything else float32. ``cull`` = +1 or -1 keeps only the triangles whose
    screen-space signed area (x1-x0)(y2-y0) - (y1-y0)(x2-x0) has that sign (back-face culling for
    closed, consistently wound meshes); 0 keeps both windings. Not differentiable."""
    height, width = _validate(screen_vertices, triangles, image_size)
    if cull not in (-1, 0, 1):
        raise ValueError(f"cull must be -1, 0 or 1, got {cull!r}")
    dtype = _F64 if screen_vertices.dtype == _F64 else torch.float32
    verts = screen_vertices.detach().to(dtype)
    tris = triangles.to(device=verts.device, dtype=torch.long)
    n_img, device = verts.shape[0], verts.device
    chunk = max(1, min(max_chunk_pixels, 2**31 - 1) // (height * width))  # chunk pixel keys fit int32
    parts = []
    with torch.no_grad():
        planes, halves, edges = _setup(verts, tris, height, width, cull)  # all images: fewer, larger ops
        # Halves come image by image (image b's flat indices lie in [bT, (b+1)T), enough for a
        # binary search of multiples of T), so each chunk of images owns a contiguous range.
        firsts = torch.arange(0, n_img + chunk, chunk, device=device, dtype=torch.int32).clamp_max_(n_img)
        firsts *= len(tris)
        bounds = torch.searchsorted(halves.tri, firsts).tolist()
        buf = torch.empty(min(chunk, n_img) * height * width, dtype=torch.long, device=device)
        for i, start in enumerate(range(0, n_img, chunk)):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                first_key = start * height * width
                zbuf = buf[:min(chunk, n_img - start) * height * width].zero_()
                rows = _scan_rows(_Runs(*(t[lo:hi] for t in halves)), [e[lo:hi] for e in edges], width, first_key)
                _depth_test(rows, zbuf)
                parts.append(_resolve(zbuf, planes, first_key, height, width))
    if not parts:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return Covered(empty, empty, empty, torch.empty(3, 0, dtype=dtype, device=device).t(),
                       torch.empty(0, dtype=dtype, device=device))
    pixel, triangle, image_triangle, weights, depth = (torch.cat(p, -1) for p in zip(*parts))
    return Covered(pixel, triangle, image_triangle, weights.t(), depth)


def to_fragments(covered: Covered, shape: tuple[int, int, int], out: Fragments | None = None) -> Fragments:
    """Dense (B,H,W) buffers from the covered pixels: -1, zero weights and +inf depth elsewhere."""
    out = _output(out, shape, covered.depth.dtype, covered.depth.device)
    out.triangle.fill_(-1).view(-1).scatter_(0, covered.pixel, covered.triangle)
    out.depth.fill_(float("inf")).view(-1).scatter_(0, covered.pixel, covered.depth)
    # column-wise scatters: stacking to (N,3) is several times slower on CPU
    for column, weight in zip(out.barycentric.zero_().view(-1, 3).unbind(1), covered.barycentric.t()):
        column.scatter_(0, covered.pixel, weight)
    return out


def _validate(verts, tris, image_size) -> tuple[int, int]:
    if not isinstance(verts, torch.Tensor) or verts.ndim != 3 or verts.shape[-1] != 3:
        got = getattr(verts, "shape", type(verts).__name__)
        raise ValueError(f"screen_vertices must be a (B,V,3) tensor, got {got}")
    if not verts.is_floating_point():
        raise ValueError(f"screen_vertices must be floating point, got {verts.dtype}")
    if not isinstance(tris, torch.Tensor) or tris.ndim != 2 or tris.shape[-1] != 3:
        raise ValueError(f"triangles must be a (T,3) tensor, got {getattr(tris, 'shape', type(tris).__name__)}")
    if tris.is_floating_point() or tris.is_complex() or tris.dtype == torch.bool:
        raise ValueError(f"triangles must be an integer tensor, got {tris.dtype}")
    if tris.numel() and (int(tris.min()) < 0 or int(tris.max()) >= verts.shape[1]):
        raise ValueError(f"triangle indices must lie in [0, V-1] = [0, {verts.shape[1] - 1}], "
                         f"got values in [{int(tris.min())}, {int(tris.max())}]")
    size = tuple(image_size) if isinstance(image_size, (tuple, list, torch.Size)) else ()
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(f"image_size must be two positive ints (H, W), got {image_size!r}")
    if size[0] * size[1] >= 2**31 or verts.shape[0] * tris.shape[0] >= 2**31:
        raise ValueError(f"H * W and B * T must stay below 2**31 (int32 keys), got {size} and "
                         f"{verts.shape[0]} * {tris.shape[0]}")
    return size


def _output(out, shape, dtype, device) -> Fragments:
    specs = ((shape, torch.long), ((*shape, 3), dtype), (shape, dtype))
    if out is None:
        return Fragments(*(torch.empty(s, dtype=d, device=device) for s, d in specs))
    if not (isinstance(out, tuple) and len(out) == 3 and all(
            isinstance(t, torch.Tensor) and tuple(t.shape) == s and t.dtype == d and t.device == device
            and t.is_contiguous() for t, (s, d) in zip(out, specs))):
        raise ValueError(f"out must be Fragments of contiguous tensors on {device} with shapes and dtypes "
                         f"{[(s, str(d)) for s, d in specs]}")
    return Fragments(*out)


def _expand(count: torch.Tensor):
    """Items of runs: owner run of each item, runs' starts and item indices, both as f64."""
    total = int(count.sum())  # a host sync: the size must be known to allocate
    owner = torch.repeat_interleave(count, output_size=total)
    start = (count.cumsum(0) - count).to(_F64)
    return owner, start, torch.arange(total, dtype=_F64, device=count.device)


def _along(value, step, owner, start, index) -> torch.Tensor:
    """Per item: value + step * (item index - run start) of its run. The start is folded into the
    per-run term (f64 keeps that exact), which saves a per-item gather."""
    return (value - step * start).index_select(0, owner).addcmul_(step.index_select(0, owner), index)


def _setup(verts, tris, height, width, cull: int = 0):
    """Per flat triangle (image * T + triangle): interpolation planes; halves with rows; their edges."""
    n_img, n_tris = verts.shape[0], tris.shape[0]
    v = verts.transpose(1, 2).index_select(2, tris.t().reshape(-1)).view(n_img, 3, 3, n_tris)
    (x0, x1, x2), (y0, y1, y2), (z0, z1, z2) = (c.unbind(1) for c in v.unbind(1))  # (B,T) each
    e1x, e1y, e2x, e2y = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    det = e1x * e2y - e1y * e2x  # twice the signed area; dividing by it absorbs the winding
    inv_det, iz0, iz1, iz2 = det.reciprocal(), z0.reciprocal(), z1.reciprocal(), z2.reciprocal()
    # λ1 = a1 dx + b1 dy and λ2 = a2 dx + b2 dy with (dx, dy) the offset from v0; λ0 = 1 - λ1 - λ2.
    a1, b1, a2, b2 = e2y * inv_det, -e2x * inv_det, -e1y * inv_det, e1x * inv_det
    qa, qb = a1 * (iz1 - iz0) + a2 * (iz2 - iz0), b1 * (iz1 - iz0) + b2 * (iz2 - iz0)  # of 1/z = Σ λ_i/z_i
    planes = [t.reshape(-1) for t in (x0, y0, a1 * iz1, b1 * iz1, a2 * iz2, b2 * iz2, iz0, qa, qb)]
    planes.append(torch.arange(n_tris, device=verts.device).repeat(n_img))  # triangle of a flat index
    x_lo, x_hi = torch.minimum(torch.minimum(x0, x1), x2), torch.maximum(torch.maximum(x0, x1), x2)
    z_min = torch.minimum(torch.minimum(z0, z1), z2)
    valid = ((det != 0) & (det + z0 + z1 + z2).isfinite() & (z_min > MIN_DEPTH)
             & (x_hi >= 0.5 - EDGE_EPS) & (x_lo <= width - 0.5 + EDGE_EPS))
    if cull:
        valid &= det * cull > 0
    rows, row0, edges = _split_halves([x0, x1, x2], [y0, y1, y2], height)  # (B, half, T) each
    rows = rows.mul_(valid[:, None]).nan_to_num_(0).int().long().view(-1)
    keep = rows.nonzero().squeeze(1)
    tri = torch.arange(n_img * n_tris, dtype=torch.int32, device=verts.device)
    tri = tri.view(n_img, 1, n_tris).expand(-1, 2, -1).reshape(-1).index_select(0, keep)
    row0 = row0.view(-1).index_select(0, keep).to(_F64)
    image = torch.arange(n_img, device=verts.device, dtype=_F64).view(-1, 1, 1).expand(-1, 2, n_tris)
    key = image.reshape(-1).index_select(0, keep).mul_(height).add_(row0).mul_(width)  # first row, x = 0
    x0, y0, iz0, qa, qb = (planes[i].index_select(0, tri).to(_F64) for i in (0, 1, 6, 7, 8))
    q = iz0 + qb * (row0 + 0.5 - y0) - qa * x0  # 1/z at (x = 0, first row centre)
    halves = _Runs(tri, rows.index_select(0, keep), key, q, qa, qb)
    return planes, halves, [e.view(-1).index_select(0, keep).to(_F64) for e in edges]


def _split_halves(x, y, height):
    """Rows, first row and left/right edges (x at the first row centre, change per row) of the top
    (centres above the middle vertex) and bottom halves, each (B, 2, T). torch.lerp with 0/1
    weights selects exactly and is much faster than torch.where on CPU."""
    for i, j in ((0, 1), (1, 2), (0, 1)):  # sorting network: order the corners by y
        swap = (y[i] > y[j]).to(y[i].dtype)
        x[i], x[j] = torch.lerp(x[i], x[j], swap), torch.lerp(x[j], x[i], swap)
        y[i], y[j] = torch.minimum(y[i], y[j]), torch.maximum(y[i], y[j])
    (xt, xm, xb), (yt, ym, yb) = x, y
    first = (yt - 0.5 - EDGE_EPS).clamp_(-1, height).ceil_()
    split = (ym - 0.5 - EDGE_EPS).clamp_(-1, height).ceil_()
    last = (yb - 0.5 + EDGE_EPS).clamp_(-1, height).floor_()
    flat_bottom = (ym == yb).to(yt.dtype)  # no bottom half: the top half takes all rows
    top0, bottom0 = first.clamp_min_(0), split.clamp_min(0)
    top1 = torch.lerp(split - 1, last, flat_bottom).clamp_max_(height - 1)
    bottom1 = torch.lerp(last.clamp_max(height - 1), torch.full_like(last, -1), flat_bottom)
    rows = torch.stack([top1 - top0 + 1, bottom1 - bottom0 + 1], 1).clamp_min_(0)
    s_long, s_top, s_bottom = (xb - xt) / (yb - yt), (xm - xt) / (ym - yt), (xb - xm) / (yb - ym)
    long_left = (xt + (ym - yt) * s_long < xm).to(xt.dtype)  # long edge v_top -> v_bottom on the left
    edges = []  # per half: x of the left edge at the first row centre, its change per row; right
    for r0, xs, ys, s in ((top0, xt, yt, s_top), (bottom0, xm, ym, s_bottom)):
        x_long, x_short = xt + (r0 + 0.5 - yt) * s_long, xs + (r0 + 0.5 - ys) * s
        edges.append((torch.lerp(x_short, x_long, long_left), torch.lerp(s, s_long, long_left),
                      torch.lerp(x_long, x_short, long_left), torch.lerp(s_long, s, long_left)))
    return rows, torch.stack([top0, bottom0], 1), [torch.stack(e, 1) for e in zip(*edges)]


def _scan_rows(halves: _Runs, edges, width: int, first_key: int) -> _Runs:
    """Rows of each half: the pixel run between its left and right edges on the row centre line."""
    h, start, index = _expand(halves.count)
    left, dleft, right, dright = edges
    j0 = _along(left, dleft, h, start, index).sub_(0.5 + EDGE_EPS).ceil_().clamp_(0, width)
    j1 = _along(right, dright, h, start, index).sub_(0.5 - EDGE_EPS).floor_().clamp_(-1, width - 1)
    count = (j1 - j0).add_(1).clamp_min_(0).int().long()
    key = (halves.key - (width * start + first_key)).index_select(0, h).add_(index, alpha=width).add_(j0)
    qa = halves.qa.index_select(0, h)
    q = _along(halves.q, halves.qb, h, start, index).addcmul_(qa, j0.add_(0.5))
    return _Runs(halves.tri.index_select(0, h), count, key, q, qa)


def _depth_test(rows: _Runs, buf: torch.Tensor) -> None:
    """z-buffer over all pixels of all runs: buf[key] = max of (1/z bits << 32) + ~flat triangle."""
    r, start, index = _expand(rows.count)
    key = (rows.key - start).index_select(0, r).add_(index).int().long()
    q = _along(rows.q, rows.qa, r, start, index).float().clamp_min_(1e-30)
    # The max of (1/z, -triangle) is the nearest fragment, ties to the lowest triangle index. Bits
    # of positive float32 order like the floats (1/z >= 1e-30 keeps them positive); the low word is
    # the unsigned ~triangle. Writing both int32 words is cheaper than int64 shifts.
    packed = torch.empty(len(q), 2, dtype=torch.int32, device=q.device)
    packed[:, _HIGH] = q.view(torch.int32)
    torch.bitwise_not(rows.tri.index_select(0, r), out=packed[:, 1 - _HIGH])
    buf.scatter_reduce_(0, key, packed.view(torch.long).view(-1), "amax")


def _resolve(buf, planes, first_key: int, height: int, width: int):
    """Flat pixel, triangle, image * T + triangle, weights (3,n) and depth of each covered pixel of
    a chunk, from the winning triangle in its z-buffer."""
    pix = buf.nonzero().squeeze(1)
    k = buf.index_select(0, pix).bitwise_not_().bitwise_and_(0xFFFFFFFF)  # the flat triangle
    x0, y0, u1x, u1y, u2x, u2y, iz0, qa, qb, tri = (p.index_select(0, k) for p in planes)
    flat = pix.to(_F64)
    image_row = (flat + 0.5).mul_(1.0 / width).floor_()  # exact in f64, unlike int64 division
    dx = flat.sub_(image_row, alpha=width).to(x0.dtype).add_(0.5).sub_(x0)
    dy = image_row.sub((image_row + 0.5).mul_(1.0 / height).floor_(), alpha=height).to(x0.dtype)
    dy = dy.add_(0.5).sub_(y0)
    weights = torch.empty(3, len(pix), dtype=x0.dtype, device=x0.device)  # rows: cheap to fill on CPU
    u0, u1, u2 = weights.unbind(0)
    torch.mul(u1x, dx, out=u1).addcmul_(u1y, dy)  # λ_i / z_i
    torch.mul(u2x, dx, out=u2).addcmul_(u2y, dy)
    q = (qa * dx).addcmul_(qb, dy).add_(iz0)  # Σ λ_i / z_i = 1 / depth
    torch.sub(q, u1, out=u0).sub_(u2).clamp_min_(0)  # clamps: centres up to EDGE_EPS outside an edge
    norm = (u0 + u1.clamp_min_(0) + u2.clamp_min_(0)).reciprocal_()
    weights.mul_(norm)
    return pix.add_(first_key), tri, k, weights, q.reciprocal_()


def _benchmark_workload(batch: int, size: int, generator: torch.Generator):
    """A closed UV ellipsoid (poles duplicated: 1566 triangles, 58 of them degenerate) covering ~30%
    of a size x size image under a pinhole camera, shifted randomly per image."""
    rings, segments = 27, 29
    theta, phi = torch.meshgrid(torch.linspace(0, torch.pi, rings + 1),
                                torch.arange(segments) * (2 * torch.pi / segments), indexing="ij")
    unit = torch.stack([theta.sin() * phi.cos(), 1.1 * theta.sin() * phi.sin(), theta.cos()], -1).view(-1, 3)
    i, j = torch.meshgrid(torch.arange(rings), torch.arange(segments), indexing="ij")
    k = (j + 1) % segments
    a, b, c, d = i * segments + j, (i + 1) * segments + j, (i + 1) * segments + k, i * segments + k
    tris = torch.cat([torch.stack([a, b, c], -1), torch.stack([a, c, d], -1)]).view(-1, 3)
    focal, distance = 4.0 * size, 60.0
    points = unit * (0.31 * size * distance / focal)  # projected radius ≈ 0.31 size
    shift = (torch.rand(batch, 1, 2, generator=generator) - 0.5) * (0.2 * size * distance / focal)
    points = points + torch.cat([shift, torch.full((batch, 1, 1), distance)], -1)
    return torch.cat([focal * points[..., :2] / points[..., 2:] + size / 2, points[..., 2:]], -1), tris


if __name__ == "__main__":
    import time

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, B=64: images/s, best / median of 10")
    for size in (128, 256):
        verts, tris = _benchmark_workload(64, size, torch.Generator().manual_seed(0))
        frags = rasterize(verts, tris, (size, size))  # warm-up
        for reuse in (None, frags):
            times = []
            for _ in range(10):
                t0 = time.perf_counter()
                rasterize(verts, tris, (size, size), out=reuse)
                times.append(time.perf_counter() - t0)
            times.sort()
            print(f"{size}x{size}, T={len(tris)}, coverage {(frags.triangle >= 0).float().mean():.0%}, "
                  f"{'reused out' if reuse else 'new outputs'}: {64 / times[0]:.0f} / {64 / times[5]:.0f}")
