"""γ and the 3D head: 6D rotations against lm3d.face.camera, the crop and image cameras, the metrics, visibility."""
import math

import pytest
import torch

from lm3d.evaluation import metrics
from lm3d.face import camera, layouts
from lm3d.model import camera_head as ch
from lm3d.model import crop
from lm3d.model.landmark_model import ContinuousLandmarkModel, ModelConfig, variant_config
from lm3d.raster import visibility
from lm3d.synth import SynthFaces, pose_scenes


def random_angles(generator, count=64):
    yaw = torch.rand(count, generator=generator) * 170 - 85  # rotation_to_euler holds for |yaw| < 90
    pitch, roll = (torch.rand(count, generator=generator) * 340 - 170 for _ in range(2))
    return yaw, pitch, roll


def test_6d_round_trip_against_the_euler_convention(generator):
    yaw, pitch, roll = random_angles(generator)
    rotation = camera.euler_to_rotation(yaw, pitch, roll)
    six = ch.matrix_to_rotation_6d(rotation)
    torch.testing.assert_close(six, torch.cat([rotation[:, 0], rotation[:, 1]], -1))  # the rows, PyTorch3D-style
    back = ch.rotation_6d_to_matrix(six)
    torch.testing.assert_close(back, rotation, atol=1e-5, rtol=0)
    for a, b in zip(camera.rotation_to_euler(back), (yaw, pitch, roll)):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=0)


def test_any_6_numbers_give_a_proper_rotation_and_degenerate_ones_are_refused(generator):
    rotation = ch.rotation_6d_to_matrix(torch.randn(100, 6, generator=generator) * 3)
    camera.check_rotation(rotation)
    for bad in ([0.0, 0, 0, 0, 1, 0], [1.0, 2, 3, 2, 4, 6], [float("nan"), 0, 0, 0, 1, 0]):
        with pytest.raises(ValueError, match="non-parallel"):
            ch.rotation_6d_to_matrix(torch.tensor([bad]))


@pytest.mark.parametrize("matrix, message", [(torch.diag(torch.tensor([1.0, 1, -1])), "not a rotation"),
                                             (2 * torch.eye(3), "not a rotation"),
                                             (torch.full((3, 3), float("nan")), "NaN"),
                                             (torch.eye(2), "shape")])
def test_what_is_not_a_rotation_is_named(matrix, message):
    with pytest.raises(ValueError, match=message):
        camera.check_rotation(matrix)
    if matrix.shape == (3, 3):
        with pytest.raises(ValueError, match=message):
            metrics.rotation_error_degrees(matrix[None], torch.eye(3)[None])


def test_ray_rotation_turns_the_optical_axis_onto_the_ray(generator):
    direction = torch.cat([torch.randn(32, 2, generator=generator), torch.rand(32, 1, generator=generator) + 0.2], -1)
    rotation = ch.ray_rotation(direction)
    camera.check_rotation(rotation)
    torch.testing.assert_close(rotation[:, :, 2], direction / direction.norm(dim=-1, keepdim=True))
    torch.testing.assert_close(ch.ray_rotation(torch.tensor([[0.0, 0, 1]]))[0], torch.eye(3))


def similarity_crops(generator, count=16, size=200):
    angle = torch.rand(count, generator=generator) * 2 * math.pi
    half = 20 + 60 * torch.rand(count, generator=generator)
    centre = 40 + 120 * torch.rand(count, 2, generator=generator)
    c, s = half * angle.cos(), half * angle.sin()
    return torch.stack([torch.stack([c, -s, centre[:, 0]], -1), torch.stack([s, c, centre[:, 1]], -1)], 1)


@pytest.mark.parametrize("principal", ch.PRINCIPALS)
def test_the_image_camera_projects_exactly_where_the_crop_camera_does(generator, principal, face):
    transform = similarity_crops(generator)
    n = len(transform)
    out = {"rotation_apparent": camera.euler_to_rotation(*(a * 0.5 for a in random_angles(generator, n))),
           "centre": 0.6 * torch.rand(n, 2, generator=generator) - 0.3,
           "log_scale": math.log(1 / 11) + 0.6 * torch.rand(n, generator=generator) - 0.3,
           "log_focal": math.log(2) + 2.3 * torch.rand(n, generator=generator)}  # f_c from 2 to 20 crop half-widths
    in_crop = ch.crop_camera(out, transform, (200, 200), principal)
    points = face.vertices[None].expand(len(transform), -1, -1)
    through_crop = crop.to_image(ch.project_to_crop(points, in_crop), transform)
    image = ch.image_camera(in_crop, transform)
    camera.check_rotation(image["rotation"])
    direct = camera.project(camera.to_camera(points, image["rotation"], image["translation"]), image["intrinsics"])
    torch.testing.assert_close(direct, through_crop, atol=2e-3, rtol=1e-4)
    scale = torch.linalg.det(transform[:, :, :2]).sqrt()
    torch.testing.assert_close(image["intrinsics"][:, 0], scale * in_crop["intrinsics"][:, 0])  # f_image = s f_c
    assert (in_crop["translation"][:, 2] > 0).all()
    if principal == "image":  # the principal point is the image's centre, wherever the crop is
        torch.testing.assert_close(image["intrinsics"][:, 2:], torch.full((len(transform), 2), 100.0))


def test_degenerate_crops_and_nan_features_are_refused():
    head = ch.CameraHead(8)
    with pytest.raises(ValueError, match="NaN or infinite image features"):
        head(torch.full((2, 8), float("nan")))
    flat = torch.tensor([[[10.0, 20.0, 50.0], [1.0, 2.0, 50.0]]])  # rank 1: the crop has no area
    with pytest.raises(ValueError, match="degenerate crop"):
        ch.crop_camera(head(torch.zeros(1, 8)), flat, (100, 100))
    mirrored = torch.tensor([[[-10.0, 0.0, 50.0], [0.0, 10.0, 50.0]]])
    with pytest.raises(ValueError, match="mirrored"):
        ch.image_camera(ch.crop_camera(head(torch.zeros(1, 8)), mirrored, (100, 100)), mirrored)


@pytest.mark.parametrize("variant", ["crop-3d", "s-3d"])
def test_an_untrained_3d_head_starts_at_the_template_and_a_frontal_pose(variant, face):
    model = ContinuousLandmarkModel(variant_config(variant, ModelConfig(crop_size=48, width=8, feature_dim=16,
                                                                        query_dim=16, hidden=16, layers=2)))
    images = torch.randint(0, 255, (3, 3, 64, 64), dtype=torch.uint8)
    boxes = torch.tensor([[16.0, 16, 48, 48]] * 3) if model.needs_box else None
    queries = face.vertices[:20]
    out = model(images, boxes, queries)
    torch.testing.assert_close(out["landmarks3d"], queries.expand(3, -1, -1))  # X = p + 0
    camera.check_rotation(out["rotation"])
    assert out["landmarks2d"].shape == (3, 20, 2) and (out["intrinsics"][:, :2] > 0).all()
    torch.testing.assert_close(out["crop_camera"]["intrinsics"][:, 0], torch.full((3,), ch.FOCAL_PRIOR))


def test_unknown_heads_and_principal_points_are_named():
    with pytest.raises(ValueError, match="head='4d'"):
        ModelConfig(head="4d").validate()
    with pytest.raises(ValueError, match="principal='lens'"):
        ModelConfig(head="3d", principal="lens").validate()


def test_procrustes_ignores_pose_and_size_but_not_shape(generator, face):
    truth = face.vertices[None, :68].expand(4, -1, -1)
    rotation = camera.euler_to_rotation(*random_angles(generator, 4))
    moved = 1.7 * truth @ rotation.transpose(1, 2) + torch.tensor([3.0, -2, 40])
    iod = torch.full((4,), 9.0)
    assert metrics.nme3d(moved, truth, iod).max() < 1e-3
    squashed = moved * torch.tensor([1.0, 1.0, 0.5])
    assert metrics.nme3d(squashed, truth, iod).min() > 1.0


def test_pose_metrics_on_known_cases(generator):
    rotation = camera.euler_to_rotation(torch.tensor([30.0]), torch.tensor([0.0]), torch.tensor([0.0]))
    torch.testing.assert_close(metrics.rotation_error_degrees(rotation, torch.eye(3)[None]), torch.tensor([30.0]))
    torch.testing.assert_close(metrics.euler_errors(rotation, torch.eye(3)[None])["yaw"], torch.tensor([30.0]))
    torch.testing.assert_close(metrics.focal_log_error(torch.tensor([200.0]), torch.tensor([100.0])),
                               torch.tensor([math.log(2)]))
    depth = torch.randn(2, 30, generator=generator)
    points = torch.randn(2, 30, 3, generator=generator)
    assert metrics.ordinal_depth_accuracy(depth, depth, points).eq(1).all()
    assert metrics.ordinal_depth_accuracy(-depth, depth, points).eq(0).all()
    scores = metrics.visibility_scores(torch.tensor([[1, 1, 0, 0]]), torch.tensor([[1, 0, 1, 0]]))
    assert scores == {"visibility_accuracy": 50.0, "visibility_f1": 50.0}
    bins = metrics.binned_means(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([5.0, 15.0, 16.0]), (0, 10, 20, 30))
    assert [b["mean"] for b in bins] == [1.0, 3.0, None] and [b["faces"] for b in bins] == [1, 2, 0]


def test_visibility_of_the_true_face_matches_synthfaces_self_occlusion(face):
    data = SynthFaces("synth300w", "test", 48, image_size=96)
    rendered = data.render(list(range(48)))
    geometry = pose_scenes(data.scenes(list(range(48))), 96)
    layout = layouts.get("ibug68")
    visible = visibility.visible_points(geometry["vertices"][:, :face.num_vertices], geometry["rotation"],
                                        geometry["translation"], geometry["intrinsics"], (96, 96),
                                        layout.triangle, layout.barycentric, face)
    # synth300w's jaw follows each face's silhouette, so only its other points are the layout's own
    own = [i for i in range(len(layout)) if layout.groups[i] not in data.spec.silhouette]
    assert len(own) == 51
    assert (visible[:, own] == rendered["self_visible"][:, own]).float().mean() > 0.99
    assert (~rendered["self_visible"][:, own]).sum() > 20  # turned faces hide points: the test can fail
    frontal = visibility.camera_space_mesh(face.vertices[None], torch.eye(3)[None], torch.tensor([[0.0, 0, 50]]))
    assert visibility.facing_camera(frontal, face.triangles).float().mean() > 0.9  # outward normals by the winding


def test_points_behind_the_camera_are_not_visible(face):
    layout = layouts.get("five")
    vertices = face.vertices[None]
    intrinsics = torch.tensor([[100.0, 100.0, 32.0, 32.0]])
    args = (intrinsics, (64, 64), layout.triangle, layout.barycentric, face)
    seen = visibility.visible_points(vertices, torch.eye(3)[None], torch.tensor([[0.0, 0.0, 60.0]]), *args)
    behind = visibility.visible_points(vertices, torch.eye(3)[None], torch.tensor([[0.0, 0.0, -60.0]]), *args)
    assert seen.all() and not behind.any()
