"""The z-buffer rasterizer: coverage, (perspective-correct) weights, visibility, batching, errors."""
import math

import pytest
import torch

from lm3d.raster.rasterizer import Fragments, _benchmark_workload, rasterize

FOCAL, CENTRE = 120.0, 32.0  # pinhole for 3D tests: x = FOCAL * X / Z + CENTRE


def project(points):
    """(..., 3) camera-space points -> (..., 3) screen vertices (x, y in pixels, z = depth)."""
    return torch.cat([FOCAL * points[..., :2] / points[..., 2:] + CENTRE, points[..., 2:]], -1)


def screen(xy, z=5.0):
    """Screen vertices (1, V, 3) from (V, 2) pixel positions and a depth (scalar or (V,))."""
    xy = torch.as_tensor(xy, dtype=torch.float32)
    z = torch.as_tensor(z, dtype=torch.float32).expand(len(xy))
    return torch.cat([xy, z[:, None]], -1)[None]


def centres(frags):
    """Pixel centres (B,H,W,2) of the image grid."""
    _, height, width = frags.triangle.shape
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    return torch.stack([xs, ys], -1).expand(frags.triangle.shape[0], -1, -1, -1)


def interpolate(frags, verts, triangles, mask):
    """Σ_i w_i * verts[corner i] at the masked pixels."""
    b = torch.arange(len(verts))[:, None, None].expand_as(frags.triangle)[mask]
    corners = verts[b[:, None], triangles[frags.triangle[mask]]]  # (N, 3, C)
    return (frags.barycentric[mask][..., None] * corners).sum(1)


def reference(verts, triangles, height, width):
    """Brute force in float64 over every (triangle, pixel): nearest triangle and depth per pixel."""
    v = verts[:, triangles].double()  # (B,T,3,3)
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    (x0, y0), e1, e2 = v[..., 0, :2].unbind(-1), v[..., 1, :2] - v[..., 0, :2], v[..., 2, :2] - v[..., 0, :2]
    det = (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0])[..., None, None]
    dx, dy = xs - x0[..., None, None], ys - y0[..., None, None]
    lam1 = (dx * e2[..., 1, None, None] - dy * e2[..., 0, None, None]) / det
    lam2 = (dy * e1[..., 0, None, None] - dx * e1[..., 1, None, None]) / det
    lam = torch.stack([1 - lam1 - lam2, lam1, lam2], -1)
    inside = (lam >= 0).all(-1) & (det != 0)
    depth = 1 / (lam / v[..., None, None, :, 2]).sum(-1)
    depth, tri = torch.where(inside, depth, torch.inf).min(1)
    return torch.where(depth.isinf(), -1, tri), depth


def test_large_triangle_area_matches_analytic_in_both_windings():
    xy = [[10.3, 12.7], [200.1, 40.2], [60.5, 230.9]]
    perimeter = sum(math.dist(xy[i], xy[(i + 1) % 3]) for i in range(3))
    area = abs((xy[1][0] - xy[0][0]) * (xy[2][1] - xy[0][1]) - (xy[1][1] - xy[0][1]) * (xy[2][0] - xy[0][0])) / 2
    ccw = rasterize(screen(xy), torch.tensor([[0, 1, 2]]), (256, 256))
    cw = rasterize(screen(xy), torch.tensor([[0, 2, 1]]), (256, 256))
    covered = ccw.triangle == 0
    assert abs(covered.sum().item() - area) < perimeter / 2
    assert torch.equal(covered, cw.triangle == 0)


def test_equal_depths_weights_reproduce_pixel_centres(generator):
    verts = torch.cat([torch.rand(1, 30, 2, generator=generator) * 64, torch.full((1, 30, 1), 7.0)], -1)
    triangles = torch.randint(0, 30, (20, 3), generator=generator)
    frags = rasterize(verts, triangles, (48, 64))
    mask = frags.triangle >= 0
    assert mask.sum() > 500
    torch.testing.assert_close(interpolate(frags, verts[..., :2], triangles, mask), centres(frags)[mask],
                               atol=1e-4, rtol=0)
    assert (frags.barycentric[mask] >= 0).all()
    torch.testing.assert_close(frags.barycentric[mask].sum(-1), torch.ones(int(mask.sum())))


def test_weights_are_perspective_correct():
    points = torch.tensor([[[-3.0, -2.0, 2.0], [6.0, -1.0, 12.0], [-1.0, 5.0, 6.0]]])  # depths 2 to 12
    frags = rasterize(project(points), torch.tensor([[0, 1, 2]]), (64, 64))
    mask = frags.triangle == 0
    assert mask.sum() > 300
    surface = interpolate(frags, points, torch.tensor([[0, 1, 2]]), mask)
    torch.testing.assert_close(project(surface)[:, :2], centres(frags)[mask], atol=2e-3, rtol=0)
    torch.testing.assert_close(frags.depth[mask], surface[:, 2], atol=0, rtol=1e-5)
    # Screen-space (affine) weights would be far off at this depth range: the test can fail.
    affine = interpolate(Fragments(frags.triangle, screen_space_weights(frags), frags.depth), points,
                         torch.tensor([[0, 1, 2]]), mask)
    assert (project(affine)[:, :2] - centres(frags)[mask]).norm(dim=-1).max() > 1.0


def screen_space_weights(frags):
    """λ_i = w_i z_i / Σ_j w_j z_j undoes the perspective correction (same depth per corner)."""
    points_z = torch.tensor([2.0, 12.0, 6.0])
    lam = frags.barycentric * points_z
    return lam / lam.sum(-1, keepdim=True).clamp_min(1e-12)


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_nearer_triangle_wins_whatever_the_order(order):
    # Two triangles whose depth planes cross: each is nearer on one side of the crossing line.
    xy = [[4, 4], [60, 8], [30, 60], [2, 30], [62, 34], [34, 2]]
    verts = screen(xy, z=[2.0, 9.0, 5.0, 8.0, 3.0, 6.0])
    triangles = torch.tensor([[0, 1, 2], [3, 4, 5]])[order]
    frags = rasterize(verts, triangles, (64, 64))
    alone = [rasterize(verts, triangles[i:i + 1], (64, 64)) for i in range(2)]
    depths = torch.stack([a.depth for a in alone])
    both = (depths.isfinite()).all(0)
    assert both.sum() > 200  # a real overlap, in which each triangle is the nearer one somewhere:
    assert (depths[0][both] < depths[1][both]).any() and (depths[1][both] < depths[0][both]).any()
    torch.testing.assert_close(frags.depth, depths.min(0).values)
    assert torch.equal(frags.triangle[both], depths[:, both].argmin(0))


def test_exact_depth_tie_goes_to_the_lower_triangle_index():
    verts = screen([[2, 2], [30, 4], [6, 28], [30, 30]])
    frags = rasterize(verts, torch.tensor([[3, 1, 2], [0, 1, 2], [2, 1, 0]]), (32, 32))
    assert set(frags.triangle.unique().tolist()) == {-1, 0, 1}  # 1 and 2 coincide: 1 wins
    assert (frags.triangle == 1).sum() > 200


def test_matches_brute_force_reference(generator):
    verts = torch.cat([torch.rand(2, 40, 2, generator=generator) * 40 - 4,
                       1 + 9 * torch.rand(2, 40, 1, generator=generator)], -1)
    triangles = torch.randint(0, 40, (60, 3), generator=generator)
    frags = rasterize(verts, triangles, (32, 36))
    tri, depth = reference(verts, triangles, 32, 36)
    differ = frags.triangle != tri
    assert differ.float().mean() < 0.01  # only pixel centres within float32 rounding of an edge or tie
    torch.testing.assert_close(frags.depth[~differ].double(), depth[~differ], rtol=1e-5, atol=0)


def test_watertight_grid_with_edges_through_pixel_centres(generator):
    # A 6x6 grid of quads, lines at pixel-centre coordinates (k + 0.5), split along alternating diagonals.
    lines = torch.arange(7) * 8 + 4.5
    ys, xs = torch.meshgrid(lines, lines, indexing="ij")
    verts = torch.stack([xs, ys, 3 + torch.rand(7, 7, generator=generator)], -1).view(1, -1, 3)
    i, j = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    a, b, c, d = (t.flatten() for t in (i * 7 + j, i * 7 + j + 1, (i + 1) * 7 + j + 1, (i + 1) * 7 + j))
    flip = ((i + j) % 2 == 0).flatten()
    triangles = torch.cat([torch.where(flip[:, None], torch.stack([a, b, c], 1), torch.stack([a, b, d], 1)),
                           torch.where(flip[:, None], torch.stack([a, c, d], 1), torch.stack([b, c, d], 1))])
    frags = rasterize(verts, triangles, (56, 56))
    expected = torch.zeros(56, 56, dtype=torch.bool)
    expected[4:53, 4:53] = True  # centres 4.5 .. 52.5, boundary included
    assert torch.equal(frags.triangle[0] >= 0, expected)


def test_background_values():
    frags = rasterize(screen([[10, 10], [30, 10], [10, 30]]), torch.tensor([[0, 1, 2]]), (40, 40))
    background = frags.triangle == -1
    assert 0 < background.sum() < 40 * 40
    assert frags.depth[background].isinf().all() and (frags.depth[background] > 0).all()
    assert (frags.barycentric[background] == 0).all()
    assert frags.depth[~background].isfinite().all()


def test_image_alone_equals_image_in_batch_and_chunking_is_invisible():
    verts, triangles = _benchmark_workload(5, 48, torch.Generator().manual_seed(3))
    batch = rasterize(verts, triangles, (48, 48))
    chunked = rasterize(verts, triangles, (48, 48), max_chunk_pixels=1)  # one image per chunk
    for name, a, b in zip(Fragments._fields, batch, chunked):
        assert torch.equal(a, b), name
    for i in (0, 3):
        alone = rasterize(verts[i:i + 1], triangles, (48, 48))
        for name, a, b in zip(Fragments._fields, alone, batch):
            assert torch.equal(a[0], b[i]), name
    assert (batch.triangle >= 0).float().mean() > 0.2


def test_out_is_reused_and_validated():
    verts, triangles = _benchmark_workload(2, 32, torch.Generator().manual_seed(1))
    first = rasterize(verts, triangles, (32, 32))
    again = rasterize(verts.flip(0), triangles, (32, 32), out=first)
    assert again.triangle.data_ptr() == first.triangle.data_ptr()
    fresh = rasterize(verts.flip(0), triangles, (32, 32))
    assert all(torch.equal(a, b) for a, b in zip(again, fresh))
    with pytest.raises(ValueError, match="out must be"):
        rasterize(verts, triangles, (32, 31), out=fresh)


def test_triangles_behind_camera_degenerate_or_offscreen_are_skipped():
    xy = [[5, 5], [40, 5], [5, 40], [10, 10], [20, 20], [30, 30], [100, 100], [140, 100], [100, 140]]
    z = [4.0, 0.0, 4.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]
    triangles = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    assert (rasterize(screen(xy, z), triangles, (48, 48)).triangle == -1).all()
    z[1] = -3.0
    assert (rasterize(screen(xy, z), triangles, (48, 48)).triangle == -1).all()
    z[1] = 4.0
    assert set(rasterize(screen(xy, z), triangles, (48, 48)).triangle.unique().tolist()) == {-1, 0}


def test_triangle_larger_than_image_covers_everything():
    frags = rasterize(screen([[-500, -500], [900, -400], [-300, 900]]), torch.tensor([[0, 1, 2]]), (24, 40))
    assert (frags.triangle == 0).all()


def test_float64_in_float64_out():
    triangles = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    frags = rasterize(screen([[1, 1], [30, 2], [3, 30]]).double(), triangles, (32, 32))
    assert frags.barycentric.dtype == frags.depth.dtype == torch.float64 and frags.triangle.dtype == torch.long
    assert (frags.triangle == 0).sum() > 300


@pytest.mark.parametrize("verts, triangles, size, message", [
    (torch.zeros(4, 3), torch.tensor([[0, 1, 2]]), (8, 8), "screen_vertices must be a .B,V,3."),
    (torch.zeros(1, 4, 2), torch.tensor([[0, 1, 2]]), (8, 8), "screen_vertices must be a .B,V,3."),
    (torch.zeros(1, 4, 3, dtype=torch.long), torch.tensor([[0, 1, 2]]), (8, 8), "floating point"),
    (torch.zeros(1, 4, 3), torch.tensor([0, 1, 2]), (8, 8), "triangles must be a .T,3."),
    (torch.zeros(1, 4, 3), torch.tensor([[0.0, 1.0, 2.0]]), (8, 8), "integer"),
    (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 4]]), (8, 8), r"indices must lie in \[0, V-1\]"),
    (torch.zeros(1, 4, 3), torch.tensor([[-1, 1, 2]]), (8, 8), r"indices must lie in \[0, V-1\]"),
    (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), (0, 8), "image_size"),
    (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), (8,), "image_size"),
    (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), (8.0, 8), "image_size"),
])
def test_bad_inputs_raise(verts, triangles, size, message):
    with pytest.raises(ValueError, match=message):
        rasterize(verts, triangles, size)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    verts, triangles = _benchmark_workload(4, 64, torch.Generator().manual_seed(2))
    cpu = rasterize(verts, triangles, (64, 64))
    gpu = rasterize(verts.cuda(), triangles.cuda(), (64, 64))
    assert gpu.triangle.is_cuda
    assert (gpu.triangle.cpu() != cpu.triangle).float().mean() < 1e-3  # only float ties may differ
    same = gpu.triangle.cpu() == cpu.triangle
    torch.testing.assert_close(gpu.barycentric.cpu()[same], cpu.barycentric[same], atol=1e-5, rtol=0)
    torch.testing.assert_close(gpu.depth.cpu()[same], cpu.depth[same], rtol=1e-5, atol=0)


def test_back_face_culling_keeps_one_winding():
    from lm3d.raster.rasterizer import rasterize as raster

    vertices = torch.tensor([[[2.0, 2.0, 1.0], [14.0, 2.0, 1.0], [2.0, 14.0, 1.0]]])
    forward, backward = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 1]])
    # (x1-x0)(y2-y0) - (y1-y0)(x2-x0) is positive for [0, 1, 2] here
    assert (raster(vertices, forward, (16, 16), cull=1).triangle >= 0).any()
    assert not (raster(vertices, forward, (16, 16), cull=-1).triangle >= 0).any()
    assert (raster(vertices, backward, (16, 16), cull=-1).triangle >= 0).any()
    assert torch.equal(raster(vertices, forward, (16, 16)).triangle, raster(vertices, backward, (16, 16)).triangle)
    with pytest.raises(ValueError, match="cull"):
        raster(vertices, forward, (16, 16), cull=2)


def test_covered_pixels_are_the_sparse_form_of_the_buffers():
    from lm3d.raster.rasterizer import rasterize_covered, to_fragments

    verts, triangles = _benchmark_workload(3, 40, torch.Generator().manual_seed(4))
    dense = rasterize(verts, triangles, (40, 40), max_chunk_pixels=2000)
    covered = rasterize_covered(verts, triangles, (40, 40), max_chunk_pixels=2000)
    mask = dense.triangle.view(-1) >= 0
    assert torch.equal(covered.pixel, mask.nonzero().squeeze(1))  # increasing flat order
    assert torch.equal(covered.triangle, dense.triangle.view(-1)[mask])
    assert torch.equal(covered.barycentric, dense.barycentric.view(-1, 3)[mask])
    assert torch.equal(covered.depth, dense.depth.view(-1)[mask])
    image = covered.pixel // (40 * 40)
    assert torch.equal(covered.image_triangle, image * len(triangles) + covered.triangle)
    assert all(torch.equal(a, b) for a, b in zip(to_fragments(covered, (3, 40, 40)), dense))
    nothing = rasterize_covered(verts[:, :, :] * torch.tensor([1.0, 1.0, -1.0]), triangles, (40, 40))
    assert len(nothing.pixel) == 0 and nothing.barycentric.shape == (0, 3)
