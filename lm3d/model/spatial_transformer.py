"""S, the spatial transformer: the detector finds and normalises the face itself, with no face box.

A small localisation CNN looks at a downscaled copy of the whole image and predicts a crop transform
A_theta; ``affine_grid`` + ``grid_sample`` (``lm3d.model.crop.crop``) resample the normalised face I' from
the **full-resolution** image, so large photos stay sharp and cost no more than small ones. It is trained
jointly with the landmark detector and only through the landmark loss (in image pixels): no box, mask or
face position is ever a target.

Parameterisation, in image coordinates centred on the image and scaled by L = max(W, H) / 2 (so a unit
square is the largest square around the image and crops stay square in pixels):

    x = c_image + L * (M n + t),   n in [-1, 1]^2 the crop's normalised coordinates

* ``similarity``: M = [[a, -b], [b, a]] with (a, b) = (s cos phi, s sin phi) predicted directly. Rotation
  is continuous this way; a raw angle would jump at +-pi (the 2D form of Zhou et al.'s argument).
* ``affine``: M is any 2x2 matrix; :func:`non_similarity` measures how far it is from a similarity so a
  penalty can keep it close (a face crop has no reason to shear).

Two localisers: ``regression`` (the textbook STN: an MLP regresses all parameters from flattened CNN
features) and ``attention`` (the default: the crop centre is the soft-argmax of a fully convolutional score
map, so finding the face is translation equivariant; the crop's shape is read from the attended features).
Notebook 04 compares them. Either way the last layers start at zero weights and the identity (a = 1, b = 0,
t = 0; affine M = I): the first crop is the whole frame (Jaderberg et al. 2015; the PyTorch STN tutorial).
The same features give a face score: the logit that the image holds a face at all (``face_logit``),
trained on background-only frames.

Seeing more pixels: a face 50 px wide in a 256 px frame is 12 px wide in a 64 px copy, and a 64 px localiser lost
such faces (docs/results/spatial_transformer.md). A larger copy (``input_size`` 128 or 256) first goes through cheap
stride-2 stem convolutions (a few channels each) down to 64 px, so the costly layers work on the same 16x16 map and
S sees four times the pixels for a fraction more time. ``precision="bfloat16"`` runs the localiser's convolutions
under bfloat16 autocast, as F's may (``lm3d.model.features.PRECISIONS``); the parameters it outputs stay float32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .features import PRECISIONS, group_norm

FAMILIES = ("similarity", "affine")
PARAMETERS = {"similarity": 4, "affine": 6}
IDENTITY = {"similarity": (1.0, 0.0, 0.0, 0.0), "affine": (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)}  # shape first, then t


LOCALISERS = ("attention", "regression")
BASE_SIZE = 64  # the input size the localisers' own layers are built for; larger inputs are brought to it by stems
LOCALISER_SIZES = (32, 48, 64, 128, 256)  # a multiple of 16 (four stride-2 layers), and 64 times 2^k above 64


def stem_count(input_size: int) -> int:
    """How many stride-2 stem convolutions bring ``input_size`` down to ``BASE_SIZE`` (0 at or below it)."""
    count = 0
    while input_size > BASE_SIZE:
        input_size, count = input_size // 2, count + 1
    return count


def stems(count: int, width: int) -> tuple[nn.Module, int]:
    """``count`` stride-2 convolutions of width//2 channels, and the channels they leave (3 when there are none)."""
    layers, channels = [], 3
    for _ in range(count):
        layers += [nn.Conv2d(channels, width // 2, 3, 2, 1, bias=False), group_norm(width // 2), nn.ReLU()]
        channels = width // 2
    return nn.Sequential(*layers), channels


def convolve(convolutions: nn.Module, small: torch.Tensor, precision: str) -> torch.Tensor:
    """A localiser's convolutions, under bfloat16 autocast if asked; float32 out, so the crop's centre, scale and
    rotation are computed in full precision whatever the convolutions ran in."""
    with torch.autocast(small.device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        return convolutions(small).float()


class RegressionLocaliser(nn.Module):
    """(B,3,s,s) -> parameters and face logit, by regression: four stride-2 convolutions, then an MLP on the
    flattened 4x4 map (global pooling would throw away where the face is). The textbook STN localiser."""

    def __init__(self, family: str, input_size: int = 64, width: int = 16, hidden: int = 128, precision: str = "float32"):
        super().__init__()
        self.precision = precision
        stem, channels = stems(stem_count(input_size), width)
        layers = list(stem)
        input_size = min(input_size, BASE_SIZE)
        for out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, 2, 1, bias=False), group_norm(out), nn.ReLU()]
            channels = out
        self.convolutions = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(channels * (input_size // 16) ** 2, hidden), nn.ReLU())
        self.head = _identity_head(hidden, family, PARAMETERS[family])
        self.face = nn.Linear(hidden, 1)

    def forward(self, small: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        hidden = self.fc(convolve(self.convolutions, small, self.precision).flatten(1))
        return self.head(hidden), self.face(hidden)[:, 0], None  # (no score map)


class AttentionLocaliser(nn.Module):
    """(B,3,s,s) -> parameters and face logit, by attention: a fully convolutional map at 1/4 resolution
    scores every place; the crop centre is the soft-argmax of the scores (translation equivariant: a face
    moved in the image moves the centre with it, which an MLP on flattened features must learn place by
    place); the crop's scale and rotation (and shear, for an affine S) are read from the features pooled
    with the same attention, and the face logit from the best score and the mean features.
    Zero-initialised heads give uniform attention, centre (0, 0) and the identity: the whole frame."""

    def __init__(self, family: str, input_size: int = 64, width: int = 16, hidden: int = 128, precision: str = "float32"):
        super().__init__()
        self.precision = precision
        c = 4 * width
        stem, channels = stems(stem_count(input_size), width)
        self.convolutions = nn.Sequential(
            *stem, nn.Conv2d(channels, width, 3, 2, 1, bias=False), group_norm(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1, bias=False), group_norm(2 * width), nn.ReLU(),
            nn.Conv2d(2 * width, c, 3, 1, 1, bias=False), group_norm(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 2, dilation=2, bias=False), group_norm(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 4, dilation=4, bias=False), group_norm(c), nn.ReLU())
        self.score = nn.Conv2d(c, 1, 1)
        nn.init.zeros_(self.score.weight), nn.init.zeros_(self.score.bias)
        self.mlp = nn.Sequential(nn.Linear(c, hidden), nn.ReLU())
        self.head = _identity_head(hidden, family, PARAMETERS[family] - 2)  # the shape of the crop; t comes from attention
        self.face = nn.Linear(hidden + 1, 1)

    def forward(self, small: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = convolve(self.convolutions, small, self.precision)  # (B,C,h,w)
        score_map = self.score(features)[:, 0]  # (B,h,w)
        scores = score_map.flatten(1)  # (B,h*w)
        attention = scores.softmax(1)
        centre = attention @ cell_centres(*features.shape[-2:], small.device, small.dtype)  # (B,2)
        pooled = torch.einsum("bn,bcn->bc", attention, features.flatten(2))
        hidden = self.mlp(pooled)
        shape = self.head(hidden)
        face = self.face(torch.cat([hidden, scores.max(1, keepdim=True).values], 1))[:, 0]
        return torch.cat([shape, centre], 1), face, score_map


def cell_centres(height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """(h*w,2) the centres of a score map's cells, x then y, centred and in [-1,1] (row-major, as ``flatten``)."""
    ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)


def _identity_head(hidden: int, family: str, count: int) -> nn.Linear:
    head = nn.Linear(hidden, count)
    nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.copy_(torch.tensor(IDENTITY[family][:count]))
    return head


class SpatialTransformer(nn.Module):
    """Normalised images (B,3,H,W) -> crop transform (B,2,3) in pixels, raw parameters, face logit (B,)."""

    def __init__(self, family: str = "similarity", input_size: int = 64, width: int = 16, hidden: int = 128,
                 localiser: str = "attention", precision: str = "float32"):
        super().__init__()
        if family not in FAMILIES:
            raise ValueError(f"unknown spatial transformer family {family!r}; known: {', '.join(FAMILIES)}")
        if localiser not in LOCALISERS:
            raise ValueError(f"unknown localiser {localiser!r}; known: {', '.join(LOCALISERS)}")
        if input_size not in LOCALISER_SIZES:
            raise ValueError(f"localiser input_size must be one of {LOCALISER_SIZES}, got {input_size}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        self.family, self.input_size = family, input_size
        kind = AttentionLocaliser if localiser == "attention" else RegressionLocaliser
        self.localiser = kind(family, input_size, width, hidden, precision)

    def forward(self, images: torch.Tensor) -> dict:
        small = images
        if images.shape[-2:] != (self.input_size, self.input_size):  # (at the same size the resize is the identity,
            small = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",  # and costs 3 %
                                  align_corners=False, antialias=True)  # of an S training step at 256 px)
        params, face_logit, score_map = self.localiser(small)
        matrix, shift = parameters_to_matrix(params, self.family)
        height, width = images.shape[-2:]
        out = {"transform": to_pixels(matrix, shift, height, width), "matrix": matrix, "shift": shift,
               "params": params, "face_logit": face_logit}
        if score_map is not None:
            out["score_map"] = score_map
        return out


def peak_transforms(params: torch.Tensor, score_map: torch.Tensor, family: str, height: int, width: int,
                    count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The crops (B,count,2,3) that S would give were its attention all on one of the ``count`` best local maxima
    of its score map (B,h,w) (each its cell's centre, S's crop shape from ``params``), and those peaks' scores
    (B,count), best first. The places S weighs against each other (``TrainConfig.peak_weight``)."""
    batch, h, w = score_map.shape
    peaks = score_map == F.max_pool2d(score_map[:, None], 3, 1, 1)[:, 0]  # a cell at least as high as its neighbours
    flat = score_map.flatten(1)
    ranked = torch.where(peaks.flatten(1), flat, torch.full_like(flat, -torch.inf)).topk(count, 1).indices
    centres = cell_centres(h, w, score_map.device, params.dtype)[ranked]  # (B,count,2)
    shape = params[:, None, :-2].expand(-1, count, -1)
    matrix, shift = parameters_to_matrix(torch.cat([shape, centres], -1).reshape(batch * count, -1), family)
    transforms = to_pixels(matrix, shift, height, width).reshape(batch, count, 2, 3)
    return transforms, flat.gather(1, ranked)


def parameters_to_matrix(params: torch.Tensor, family: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw outputs -> (M (B,2,2), t (B,2)) in the centred, L-scaled image frame of the module docstring."""
    if family == "similarity":
        a, b, tx, ty = params.unbind(-1)
        matrix = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)
        return matrix, torch.stack([tx, ty], -1)
    return params[:, :4].reshape(-1, 2, 2), params[:, 4:]


def to_pixels(matrix: torch.Tensor, shift: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B,2,3) crop transform in image pixels (the form ``lm3d.model.crop`` uses) from M and t."""
    half = 0.5 * max(height, width)
    centre = torch.tensor([0.5 * width, 0.5 * height], device=matrix.device, dtype=matrix.dtype)
    return torch.cat([half * matrix, (centre + half * shift)[..., None]], -1)


def from_pixels(transform: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, t) in the centred, L-scaled image frame of a (B,2,3) pixel crop transform (inverse of :func:`to_pixels`)."""
    half = 0.5 * max(height, width)
    centre = torch.tensor([0.5 * width, 0.5 * height], device=transform.device, dtype=transform.dtype)
    return transform[:, :, :2] / half, (transform[:, :, 2] - centre) / half


def scale(matrix: torch.Tensor) -> torch.Tensor:
    """(B,) crop half-size in units of L: sqrt |det M| (s for a similarity)."""
    return torch.linalg.det(matrix).abs().clamp_min(1e-12).sqrt()


def non_similarity(matrix: torch.Tensor) -> torch.Tensor:
    """(B,) squared distance of M from its nearest similarity, over the crop's scale squared (0 for a similarity)."""
    p = 0.5 * (matrix[:, 0, 0] + matrix[:, 1, 1])
    q = 0.5 * (matrix[:, 1, 0] - matrix[:, 0, 1])
    nearest = torch.stack([torch.stack([p, -q], -1), torch.stack([q, p], -1)], -2)
    return ((matrix - nearest) ** 2).sum((1, 2)) / (p ** 2 + q ** 2).clamp_min(1e-6)


def corner_excess(matrix: torch.Tensor, shift: torch.Tensor, height: int, width: int, margin: float) -> torch.Tensor:
    """(B,) how far the crop's corners reach outside the image, beyond ``margin`` (in units of L, squared).

    A grid sampled mostly outside the image reads zeros; a hinge on the corners keeps the crop over the
    image without forbidding a face at the border (part of a crop may hang out by ``margin``).
    """
    half = 0.5 * max(height, width)
    limits = torch.tensor([0.5 * width / half, 0.5 * height / half], device=matrix.device) + margin
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], device=matrix.device)
    reached = corners @ matrix.transpose(1, 2) + shift[:, None]  # (B,4,2)
    return F.relu(reached.abs() - limits).pow(2).sum((1, 2))


def scale_outside(matrix: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """(B,) squared log-distance of the crop scale from the range [low, high] (0 inside it).

    The range comes from the training data's face sizes (a population statistic, not a per-image box): a
    crop much smaller than any face, or much larger than the image, is then always worse than one inside.
    """
    log_s = scale(matrix).log()
    return (F.relu(torch.log(torch.tensor(low)) - log_s) + F.relu(log_s - torch.log(torch.tensor(high)))) ** 2
