"""Where a 3D head's rotation error comes from: γ's pose against what the landmarks themselves say about the pose.

The 3D head (``lm3d.model.camera_head``) projects P's canonical 3D points through γ's pose and camera, and only the
2D landmarks train it. This script takes a checkpoint with a 3D head and SynthFaces' exact truth on the ``synth300w``
test faces and prints:

1. **γ's errors per angle**: the mean signed error (a bias?), and the correlation and least-squares slope of
   predicted against true yaw, pitch and roll (a slope below 1: the angle is shrunk towards a frontal face).
2. **Rigid pose fits** (``fit_pose``: the rotation and translation that best project some 3D points onto some 2D
   points, through a given camera): the template (the canonical face's points), the true 3D shape or P's own
   points, fitted to the true 2D landmarks or to the model's. The true camera's fits say how much the landmarks
   fix the pose; the fits through the model's own focal say what a pose fit could give at inference, with the
   principal point at the image's centre (where SynthFaces' and most real cameras have it) or where the model puts
   it (``ModelConfig.principal``: the crop's centre or the image's).
3. **Shear in P's points**: the affine map from the template to P's points (``lm3d.training.objective.shape_shear``)
   against the same map for the true shapes. A shear dy = a z projects like a pitch of a radians.
4. **The camera**: γ's *apparent* rotation (the pose seen along the ray from the camera to the face, which is what
   a crop shows) against the true apparent rotation; and γ's pose turned to a camera whose principal point is the
   image's centre (``reaim``) through γ's own focal or the true one, with how far the turned camera's projection of
   P's points then lands from the model's landmarks (% IOD): a turn cannot move a principal point exactly.

    .venv/bin/python benchmarks/pose_sources.py runs/standard_crop-3d_seed0/checkpoint.pt --count 300

The test faces are fixed by their seed, so two runs print the same numbers.
"""
from __future__ import annotations

import argparse

import torch

from lm3d.evaluation import metrics, pose
from lm3d.evaluation.test_sets import found_faces
from lm3d.face import CanonicalFace, camera, layouts
from lm3d.model import load_model
from lm3d.model.camera_head import matrix_to_rotation_6d, ray_rotation, rotation_6d_to_matrix
from lm3d.runtime import intra_op_threads
from lm3d.synth import sources
from lm3d.training.objective import affine_map

ANGLES = ("yaw", "pitch", "roll")


def fit_pose(points3d: torch.Tensor, points2d: torch.Tensor, intrinsics: torch.Tensor, rotation: torch.Tensor,
             translation: torch.Tensor, iterations: int = 300) -> torch.Tensor:
    """(B,3,3) the rotation that, with some translation, best projects ``points3d`` (B,K,3) canonical cm onto
    ``points2d`` (B,K,2) px through ``intrinsics`` (B,4) in least squares, started from (``rotation``, ``translation``)."""
    six = matrix_to_rotation_6d(rotation.float()).detach().clone().requires_grad_(True)
    depth = translation[:, 2:].float().clamp_min(1.0)
    # the position as (x/z, y/z, log z): well scaled for any distance
    position = torch.cat([translation[:, :2].float() / depth, depth.log()], -1).detach().clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([six, position], max_iter=iterations, line_search_fn="strong_wolfe")

    def residual():
        optimiser.zero_grad()
        z = position[:, 2:].exp()
        posed = camera.to_camera(points3d.float(), rotation_6d_to_matrix(six), torch.cat([position[:, :2] * z, z], -1))
        loss = ((camera.project(posed, intrinsics.float()) - points2d.float()) ** 2).sum(-1).mean()
        loss.backward()
        return loss

    optimiser.step(residual)
    return rotation_6d_to_matrix(six).detach()


def reaim(rotation: torch.Tensor, translation: torch.Tensor, intrinsics: torch.Tensor, principal: torch.Tensor,
          focal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A camera (B,3,3), (B,3) cm, (B,4) px turned so that its principal point is ``principal`` (B,2) px and its focal
    ``focal`` (B,1) px, keeping the pixel of the face origin and its distance."""
    before = translation / translation[:, 2:]
    pixel = intrinsics[:, :2] * before[:, :2] + intrinsics[:, 2:]
    after = torch.cat([(pixel - principal) / focal, torch.ones_like(focal)], -1)
    turn = ray_rotation(after) @ ray_rotation(before).transpose(1, 2)
    return turn @ rotation, (turn @ translation[..., None])[..., 0], torch.cat([focal, focal, principal], -1)


def rotation_summary(rotation: torch.Tensor, truth: torch.Tensor) -> str:
    error = metrics.rotation_error_degrees(rotation, truth)
    euler = metrics.euler_errors(rotation, truth)
    return (f"{error.mean():6.2f} deg (median {error.median():5.2f}); "
            + ", ".join(f"{name} {euler[name].mean():5.2f}" for name in ANGLES))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=256)
    args = parser.parse_args(argv)
    with intra_op_threads(1):
        model = load_model(args.checkpoint, "cpu")
        if model.camera_head is None:
            raise SystemExit(f"{args.checkpoint} has a 2D head; this script needs a 3D head (crop-3d, s-3d or full)")
        face, layout = CanonicalFace.load(), layouts.get(sources.get("synth300w").layout)
        truth = pose.render_with_truth("synth300w", args.count, args.image_size, seed=0)
        truth, boxes, _ = found_faces(model, "simulated", truth, "synth300w/test")
        with torch.no_grad():
            predicted = pose.predict_pose(model, truth["image"], boxes, layout, face)
        report(predicted, truth, layout.points(face), args.image_size)


def report(predicted: dict, truth: dict, template_points: torch.Tensor, image_size: int) -> None:
    count = len(truth["image"])
    print(f"{count} synth300w test faces\n\n1. gamma's rotation: {rotation_summary(predicted['rotation'], truth['rotation'])}")
    guessed = torch.stack(camera.rotation_to_euler(predicted["rotation"]), -1)
    true = torch.stack(camera.rotation_to_euler(truth["rotation"]), -1)
    signed = (guessed - true + 180) % 360 - 180
    for i, name in enumerate(ANGLES):
        g, t = guessed[:, i] - guessed[:, i].mean(), true[:, i] - true[:, i].mean()
        print(f"   {name:5s}: mean signed error {signed[:, i].mean():+5.2f} deg, correlation "
              f"{(g * t).sum() / (g.norm() * t.norm()):.3f}, slope {(g * t).sum() / (t * t).sum():.3f}, "
              f"true sd {true[:, i].std():5.2f} deg")
    template = template_points[None].expand(count, -1, -1)
    true_camera = truth["intrinsics"].float()
    own_focal = predicted["intrinsics"][:, :2].float()
    image_centre = torch.full_like(own_focal, 0.5 * image_size)
    fits = [("template on the true 2D landmarks, true camera", template, truth["landmarks2d"], true_camera),
            ("true 3D shape on the true 2D landmarks, true camera", truth["points_deformed"], truth["landmarks2d"],
             true_camera),
            ("template on the model's 2D landmarks, true camera", template, predicted["landmarks2d"], true_camera),
            ("P's 3D points on the model's 2D landmarks, true camera", predicted["landmarks3d"],
             predicted["landmarks2d"], true_camera),
            ("template on the model's 2D landmarks, its focal, image centre", template, predicted["landmarks2d"],
             torch.cat([own_focal, image_centre], -1)),
            ("template on the model's 2D landmarks, its own camera and principal point", template, predicted["landmarks2d"],
             predicted["intrinsics"])]
    print("\n2. rigid pose fits (started from gamma's pose):")
    for label, points3d, points2d, intrinsics in fits:
        fitted = fit_pose(points3d, points2d, intrinsics, predicted["rotation"], predicted["translation"])
        print(f"   {label:68s} {rotation_summary(fitted, truth['rotation'])}")
    print("\n3. the affine map from the template to the 3D points (mean |entry|; rows x, y, z; off the diagonal: shear):")
    for label, points in (("P's points", predicted["landmarks3d"]), ("true shapes", truth["points_deformed"])):
        matrix = affine_map(points.double(), template.double(), torch.ones(points.shape[:2], dtype=torch.bool)).abs().mean(0)
        rows = "; ".join(" ".join(f"{v:.3f}" for v in row) for row in matrix.tolist())
        print(f"   {label:12s} {rows}")
    print("\n4. the camera:")
    apparent = ray_rotation(predicted["translation"]).transpose(1, 2) @ predicted["rotation"]
    true_apparent = ray_rotation(truth["translation"]).transpose(1, 2) @ truth["rotation"]
    label = "gamma's apparent rotation against the true apparent rotation"
    print(f"   {label:68s} {rotation_summary(apparent, true_apparent)}")
    for label, focal in (("its own focal", own_focal[:, :1]), ("the true focal", true_camera[:, :1])):
        rotation, translation, intrinsics = reaim(predicted["rotation"], predicted["translation"],
                                                  predicted["intrinsics"], image_centre, focal)
        reprojected = camera.project(camera.to_camera(predicted["landmarks3d"], rotation, translation), intrinsics)
        gap = metrics.nme_per_face(reprojected, predicted["landmarks2d"].float(), truth["iod"])
        print(f"   {'gamma turned to the image centre, ' + label:68s} {rotation_summary(rotation, truth['rotation'])}; "
              f"its projection {gap.mean():.2f} % IOD from the landmarks (max {gap.max():.1f})")


if __name__ == "__main__":
    main()
