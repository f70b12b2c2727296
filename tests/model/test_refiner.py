"""R, the refiner: it starts as a no-op, it reads the maps where each point lies, and the objective supervises P too."""
from dataclasses import replace

import pytest
import torch

from lm3d.model import ContinuousLandmarkModel, camera_head, crop
from lm3d.model.refiner import Refiner
from lm3d.training import Objective, preset

SMALL = replace(preset("fast").model, pooling="grid", refine=True)


@pytest.mark.parametrize("head", ["2d", "3d"])
def test_an_untrained_refiner_changes_nothing(head):
    model = ContinuousLandmarkModel(replace(SMALL, head=head))
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    out = model(images, torch.tensor([[10.0, 12.0, 50.0, 54.0]] * 2), torch.randn(7, 3) * 4)
    assert out["landmarks2d"].shape == out["coarse2d"].shape == (2, 7, 2)
    torch.testing.assert_close(out["landmarks2d"], out["coarse2d"], atol=0, rtol=0)


def test_the_refiner_reads_the_maps_where_the_point_lies(generator):
    refiner = Refiner(map_channels=4, query_dim=3, hidden=8, outputs=2)
    torch.nn.init.normal_(refiner.mlp[-1].weight, generator=generator)
    maps = [torch.zeros(1, 4, 16, 16)]
    point = torch.tensor([[[-0.5, 0.25]]])  # crop coordinates: column 4, row 10 of the 16x16 map
    queries = torch.zeros(1, 1, 3)
    before = refiner(maps, point, queries)
    far = [maps[0].clone()]
    far[0][..., 2, 13] = 5.0  # a feature far from the point
    near = [maps[0].clone()]
    near[0][..., 10, 4] = 5.0  # a feature under the point
    torch.testing.assert_close(refiner(far, point, queries), before)
    assert (refiner(near, point, queries) - before).abs().max() > 1e-3


def test_the_objective_supervises_p_before_the_correction():
    config = replace(preset("fast"), model=SMALL)
    model = ContinuousLandmarkModel(SMALL)
    batch = {"image": torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8), "queries": torch.randn(2, 5, 3) * 4,
             "targets": torch.rand(2, 5, 2) * 64, "mask": torch.ones(2, 5), "iod": torch.full((2,), 20.0),
             "boxes": torch.tensor([[10.0, 12.0, 50.0, 54.0]] * 2)}
    outputs = model(batch["image"], batch["boxes"], batch["queries"])
    terms = Objective(model, config)(outputs, batch, normaliser=10.0)
    assert set(terms) == {"landmarks", "coarse"} and terms["coarse"].item() == pytest.approx(terms["landmarks"].item())


@pytest.mark.parametrize("space", ["shape", "image"])
def test_a_3d_head_refines_its_shape_or_its_image_points(space, generator):
    model = ContinuousLandmarkModel(replace(SMALL, head="3d", refine_space=space))
    assert model.refiner.mlp[-1].out_features == (3 if space == "shape" else 2)
    torch.nn.init.normal_(model.refiner.mlp[-1].weight, std=0.1, generator=generator)
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    out = model(images, torch.tensor([[10.0, 12.0, 50.0, 54.0]] * 2), torch.randn(7, 3) * 4)
    assert (out["landmarks2d"] - out["coarse2d"]).abs().max() > 1e-3  # R moved the points either way
    projected = crop.to_image(camera_head.project_to_crop(out["landmarks3d"], out["crop_camera"]), out["transform"])
    if space == "shape":  # one consistent answer: the 2D points are the refined 3D points, projected
        torch.testing.assert_close(out["landmarks2d"], projected, atol=1e-3, rtol=0)
    else:  # the 3D points stay P's; their projection is the coarse answer
        torch.testing.assert_close(out["coarse2d"], projected, atol=1e-3, rtol=0)
