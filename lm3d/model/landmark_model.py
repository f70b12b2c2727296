"""The assembled landmark model: the continuous baseline of the CVPR 2023 paper and the rungs the 2024 paper adds.

    image I  ->  crop A: the external box (lm3d.model.crop) or S (lm3d.model.spatial_transformer)  ->  I'
    I'  ->  F (lm3d.model.features)  ->  f
    query p (canonical 3D point)  ->  Q (lm3d.model.queries)  ->  q
    P([f, q]) (lm3d.model.predictor)  ->  point in the crop's normalised frame  ->  A  ->  image pixels
    3D head:  P -> canonical 3D point X;  γ(f) (lm3d.model.camera_head) -> pose and camera;  X -> crop -> A -> image

The model never sees a layout: it sees 3D query points, one set per image (or one set shared by
the batch), so any layout, dense set or held-out point can be asked for. Every prediction is mapped
back to image pixels through the crop, so the loss (and S's only training signal) lives in the image.

Variants (``VARIANTS``, chosen with ``--variant`` in training) differ only in their ``ModelConfig``:
``baseline`` crops around a given face box; ``s-similarity`` and ``s-affine`` find the face with S;
``crop-3d`` (the box crop) and ``s-3d`` (a similarity S) predict canonical 3D points, head pose and camera.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..face import CanonicalFace, layouts
from . import camera_head
from . import crop as crops
from .camera_head import PRINCIPALS, TEMPLATE_SCALE_CM, CameraHead
from .deformer import QueryDeformer
from .features import POOLINGS, PRECISIONS, FeatureExtractor
from .predictor import LandmarkPredictor2D, LandmarkPredictor3D
from .queries import QueryEncoder
from .refiner import Refiner
from .spatial_transformer import FAMILIES, LOCALISER_SIZES, LOCALISERS, SpatialTransformer, from_pixels

CROPS = ("box",) + FAMILIES
ANCHOR_LAYOUT = "ibug68"  # the points on which a re-crop (ModelConfig.recrop) fits S's template
HEADS = ("2d", "3d")
REFINE_SPACES = ("shape", "image")
# S's crops are never as tight as a box around the true face, so its F keeps a coarse grid of where things are
# (pooling="grid"; training loss 0.47 against 0.70 with mean pooling, seed 0, docs/results/spatial_transformer.md)
VARIANTS = {"baseline": {"crop": "box"}, "s-similarity": {"crop": "similarity", "pooling": "grid"},
            "s-affine": {"crop": "affine", "pooling": "grid"}, "crop-3d": {"crop": "box", "head": "3d"},
            "s-3d": {"crop": "similarity", "pooling": "grid", "head": "3d"},
            "full": {"crop": "similarity", "pooling": "grid", "head": "3d", "deformer": True}}


def check_ranges(kind: str, config, checks: dict[str, bool]) -> None:
    """Raise a ValueError naming the first config field whose check failed."""
    for name, ok in checks.items():
        if not ok:
            raise ValueError(f"{kind} config value {name}={getattr(config, name)!r} is out of range")


@dataclass
class ModelConfig:
    crop_size: int = 128  # pixels a side of the crop F sees
    crop_margin: float = 0.25  # the box crop: a square (1 + margin) times the face box's longer side
    width: int = 32  # F's channels at its first stage
    feature_dim: int = 256  # F's output f
    query_frequencies: int = 6  # Q's Fourier frequencies (octaves) per coordinate
    query_dim: int = 128  # Q's output q
    hidden: int = 256  # P's hidden width
    layers: int = 3  # P's hidden layers
    feature_precision: str = "float32"  # F's convolutions in "float32" or "bfloat16" (lm3d.model.features.PRECISIONS)
    pooling: str = "mean"  # how F pools its last map: "mean", "keypoints" (also where features fire) or "grid" (a 4x4 grid)
    crop: str = "box"  # "box" (an external face box), or S: "similarity", "affine"
    localiser_size: int = 64  # S looks at the whole image downscaled to this many pixels (above 64: 64 times 2^k)
    localiser_width: int = 16
    localiser: str = "attention"  # or "regression": how S finds the face (lm3d.model.spatial_transformer)
    localiser_precision: str = "float32"  # S's convolutions in "float32" or "bfloat16", as feature_precision for F
    second_pass: bool = False  # apply S again to its own crop
    # S only: at inference, read the face again this many times from the crop where S's template best fits the
    # landmarks just found (anchor points; lm3d.model.crop.fit_similarity): a cascade on the model's own answer, beyond
    # the paper (a box model ignores it, as it ignores S's other fields)
    recrop: int = 0
    s_learns_from: str = "template"  # "template": only its template's loss moves S (see Template); "all": every landmark loss
    head: str = "2d"  # "2d": P gives crop points; "3d": P gives canonical 3D points, γ the pose and camera
    principal: str = "crop"  # 3D head: the principal point at the crop's centre or the image's (camera_head)
    refine: bool = False  # R: correct each point from F's maps sampled where it lies (lm3d.model.refiner)
    refine_space: str = "shape"  # 3D head's R: "shape" moves the 3D point (projected again), "image" the projected point
    # 3D head only: a 2D head beside P on the same features, trained on the same landmarks, so that F also learns from
    # a direct 2D answer as the baseline's does; the model's answer stays the projection (``assist2d`` in the outputs).
    # A 2D head ignores it, so that a preset can set it for every variant
    assist_2d: bool = False
    deformer: bool = False  # D: move each query by its dataset's convention (lm3d.model.deformer)
    datasets: tuple[str, ...] = ()  # the datasets D knows, in training order (set from the training sources)

    def __post_init__(self):
        self.datasets = tuple(self.datasets)  # a checkpoint's JSON gives a list

    def validate(self) -> "ModelConfig":
        if self.crop not in CROPS:
            raise ValueError(f"unknown crop {self.crop!r}; known: {', '.join(CROPS)}")
        checks = {"crop_size": 32 <= self.crop_size <= 512, "crop_margin": 0 <= self.crop_margin <= 2,
                  "width": 8 <= self.width <= 256, "feature_dim": 1 <= self.feature_dim <= 4096,
                  "query_frequencies": 0 <= self.query_frequencies <= 16, "query_dim": 1 <= self.query_dim <= 4096,
                  "hidden": 1 <= self.hidden <= 4096, "layers": 1 <= self.layers <= 16,
                  "localiser_size": self.localiser_size in LOCALISER_SIZES,
                  "localiser_width": 4 <= self.localiser_width <= 128, "localiser": self.localiser in LOCALISERS,
                  "second_pass": not self.second_pass or self.crop != "box",
                  "recrop": 0 <= self.recrop <= 4,
                  "s_learns_from": self.s_learns_from in ("all", "template"), "pooling": self.pooling in POOLINGS,
                  "feature_precision": self.feature_precision in PRECISIONS,
                  "localiser_precision": self.localiser_precision in PRECISIONS,
                  "head": self.head in HEADS, "principal": self.principal in PRINCIPALS,
                  "refine_space": self.refine_space in REFINE_SPACES,
                  "datasets": not self.deformer or (len(self.datasets) > 0 and len(set(self.datasets)) == len(self.datasets))}
        check_ranges("model", self, checks)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def what_matters(self) -> "ModelConfig":
        """This config with the fields that do not shape its training at their defaults: a box model has no S, a 2D
        head no camera, and a re-crop happens only at inference, so their settings (and a change of their defaults)
        must not stop a checkpoint from resuming."""
        unused = ((S_FIELDS if self.crop == "box" else ()) + (HEAD_3D_FIELDS if self.head == "2d" else ())
                  + (DEFORMER_FIELDS if not self.deformer else ()) + INFERENCE_FIELDS)
        defaults = ModelConfig()
        return replace(self, **{name: getattr(defaults, name) for name in unused})


S_FIELDS = ("localiser_size", "localiser_width", "localiser", "localiser_precision", "second_pass", "s_learns_from",
            "recrop")
HEAD_3D_FIELDS = ("principal", "refine_space", "assist_2d")
DEFORMER_FIELDS = ("datasets",)
INFERENCE_FIELDS = ("recrop",)  # read only at inference: a run may resume with another value


def variant_config(variant: str, config: ModelConfig, datasets: tuple[str, ...] = ()) -> ModelConfig:
    """``config`` turned into the named variant (its sizes kept); a variant with D knows ``datasets``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)}")
    changes = dict(VARIANTS[variant])
    if changes.get("deformer"):
        changes["datasets"] = tuple(datasets)
    return replace(config, **changes).validate()


def compose(outer: torch.Tensor, inner: torch.Tensor, size: int) -> torch.Tensor:
    """The crop transform of a crop (``inner``, in the pixels of a ``size`` crop) taken inside the crop ``outer``."""
    inner_normalised = crops.pixels_to_normalised(inner, size, size)
    return torch.cat([outer[:, :, :2] @ inner_normalised[:, :, :2],
                      (outer[:, :, :2] @ inner_normalised[:, :, 2:] + outer[:, :, 2:])], -1)


class Template(nn.Module):
    """S's own coarse landmarks: each query's frontal projection, placed in the crop by a learned similarity.

    n = s R (x, -y) / 11 cm + t for a canonical query (x, y, z): where the query would sit in a crop around a
    frontal face. Mapped to the image through S's crop, these points give S a direct landmark loss (the
    template term of ``lm3d.training.objective``): a crop is good when the template lands on the face, as in DAN's
    alignment to a mean shape. Still only the landmarks train S; no box or face position is a target.
    """

    def __init__(self):
        super().__init__()
        self.similarity = nn.Parameter(torch.tensor([1.0, 0.0, 0.0, 0.0]))  # (a, b, tx, ty)

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        a, b, tx, ty = self.similarity
        frontal = torch.stack([queries[..., 0], -queries[..., 1]], -1) / TEMPLATE_SCALE_CM
        rotation = torch.stack([torch.stack([a, -b]), torch.stack([b, a])])
        return frontal @ rotation.T + torch.stack([tx, ty])


class ContinuousLandmarkModel(nn.Module):
    """External crop or S, then F + Q + P with a 2D head, or P and γ with a 3D head."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = (config or ModelConfig()).validate()
        c = self.config
        self.spatial_transformer = (SpatialTransformer(c.crop, c.localiser_size, c.localiser_width, localiser=c.localiser,
                                                       precision=c.localiser_precision)
                                    if c.crop != "box" else None)
        self.template = Template() if c.crop != "box" else None
        if self.template is not None:  # the points a re-crop fits the template to: fixed, so that no answer depends on
            # which other queries were asked (not saved: they come from the face's assets)
            self.register_buffer("anchors", layouts.get(ANCHOR_LAYOUT).points(CanonicalFace.load()), persistent=False)
        self.features = FeatureExtractor(c.width, c.feature_dim, pooling=c.pooling, precision=c.feature_precision)
        self.queries = QueryEncoder(c.query_frequencies, c.query_dim)
        predictor = LandmarkPredictor3D if c.head == "3d" else LandmarkPredictor2D
        self.predictor = predictor(c.feature_dim, c.query_dim, c.hidden, c.layers)
        self.camera_head = CameraHead(c.feature_dim) if c.head == "3d" else None
        self.deformer = QueryDeformer(c.datasets, c.query_dim) if c.deformer else None
        in_shape = c.head == "3d" and c.refine_space == "shape"
        self.refiner = Refiner(self.features.map_channels, c.query_dim, c.hidden, 3 if in_shape else 2) if c.refine else None
        with_assistant = c.assist_2d and c.head == "3d"
        self.assistant = LandmarkPredictor2D(c.feature_dim, c.query_dim, c.hidden, c.layers) if with_assistant else None

    @property
    def needs_box(self) -> bool:
        return self.spatial_transformer is None

    @property
    def recrops(self) -> int:
        """How many times inference reads the face again (``ModelConfig.recrop``): only S re-crops, a box model never."""
        return self.config.recrop if self.template is not None else 0

    def locate(self, images: torch.Tensor, boxes: torch.Tensor | None) -> dict:
        """The crop transform (B,2,3) of each normalised image, and S's outputs when it has S."""
        if self.spatial_transformer is None:
            if boxes is None:
                raise ValueError("this model crops around a face box: pass boxes (B,4); S variants need none")
            return {"transform": crops.box_to_transform(boxes.float(), self.config.crop_margin)}
        located = self.spatial_transformer(images)
        if self.config.second_pass:
            first = crops.crop(images, located["transform"], self.config.crop_size)
            again = self.spatial_transformer(first)
            transform = compose(located["transform"], again["transform"], self.config.crop_size)
            # the penalties judge the crop of the image (the composed one), not the inner crop within the first
            matrix, shift = from_pixels(transform, *images.shape[-2:])
            located = {**again, "first_transform": located["transform"], "face_logit": located["face_logit"],
                       "transform": transform, "matrix": matrix, "shift": shift}
        return located

    def forward(self, images: torch.Tensor, boxes: torch.Tensor | None, queries: torch.Tensor,
                datasets: torch.Tensor | None = None, given_crops: tuple[torch.Tensor, torch.Tensor] | None = None,
                start: torch.Tensor | None = None) -> dict:
        """images (B,3,H,W) uint8 or float in [0,1]; boxes (B,4) pixels (or None with S); queries (K,3) or (B,K,3);
        datasets (B,) indices for D (``self.deformer.index(names)``; None: the canonical semantics).

        ``given_crops`` (training only): a mask (B,) and crop transforms (B,2,3) that replace the crop of the
        faces the mask picks (S's own crop still gets its terms). ``start`` (inference only, S only): crops (B,2,3)
        that the re-crops begin from instead of S's own (tracking: the previous frame's crop); S still scores the face.

        Returns ``landmarks2d`` (B,K,2) image pixels, ``crop_points`` (B,K,2) normalised crop
        coordinates, the crop ``transform`` (B,2,3) they were read from, and with S its ``face_logit`` (B,),
        parameters, its own crop ``s_transform`` (the same unless a re-crop or a given crop replaced it) and
        ``template2d`` (B,K,2): the template's points through S's crop (see :class:`Template`). A 3D head adds
        ``landmarks3d`` (B,K,3) canonical cm, the pose and camera in the image (``rotation`` (B,3,3),
        ``translation`` (B,3) cm, ``intrinsics`` (B,4) fx, fy, cx, cy px), and ``crop_camera`` (the same in the crop).
        D adds ``query_offsets`` (B,K,3) cm and ``queries_deformed`` (B,K,3), the queries P answered. R adds
        ``coarse2d`` (B,K,2): the image points before its correction. A 3D head's 2D assistant adds ``assist2d`` (B,K,2).

        A dict, not a typed container: each rung adds its own keys, and its three readers (the training objective,
        ``lm3d.inference.predict_batches`` and ``Detector``) each ask for the keys of the rungs they handle; a
        dataclass of a dozen optional fields would say no more than this list and cost a conversion in each.
        """
        images = crops.normalise_images(images)
        located = self.locate(images, boxes)
        transform = located["transform"]
        # with s_learns_from="template" the detector works on S's crop but cannot move it: S answers to its template
        used = transform.detach() if self.config.s_learns_from == "template" else transform
        if given_crops is not None:  # training: these faces' detector crops are given (TrainConfig.fitted_crop_fraction)
            chosen, given = given_crops
            used = torch.where(chosen[:, None, None], given.to(used), used)
        if start is not None:
            if self.training or self.template is None:
                raise ValueError("start crops are for a model with S at inference (its re-crops follow the face)")
            used = start.to(used)
        if not self.training:
            for _ in range(max(self.recrops, int(start is not None))):  # a started crop is always re-fitted once
                used = self.recrop(images, used)
        out = {**located, "transform": used, **self.read_face(images, used, queries, datasets)}
        if self.template is not None:
            out.update(s_transform=transform, template2d=self.template_points(out.get("queries_deformed", queries), transform))
        return out

    def read_face(self, images: torch.Tensor, used: torch.Tensor, queries: torch.Tensor,
                  datasets: torch.Tensor | None = None) -> dict:
        """F, Q, P (and R, γ, D) on the crop ``used`` (B,2,3) of the normalised ``images``: the keys of :meth:`forward`
        but the crop's and S's own."""
        face = crops.crop(images, used, self.config.crop_size)
        # only the refiner reads F's maps: without it they are neither kept nor converted
        features, maps = (self.features.features_and_maps(face) if self.refiner is not None
                          else (self.features(face), []))
        queries = queries.to(features)
        out = {}
        if self.deformer is not None and datasets is not None:
            offsets = self.deformer(queries, self.queries(queries), datasets.to(features.device))
            queries = (queries if queries.ndim == 3 else queries.expand(len(images), -1, -1)) + offsets
            out.update(query_offsets=offsets, queries_deformed=queries)
        elif datasets is not None:
            raise ValueError("this model has no query deformer D (variant full has one): it cannot answer in a "
                             "dataset's convention")
        embedded = self.queries(queries)
        if self.camera_head is None:
            crop_points = self.predictor(features, embedded)
            if self.refiner is not None:
                out["coarse2d"] = crops.to_image(crop_points, used)
                crop_points = crop_points + self.refiner(maps, crop_points, embedded)
        else:
            points3d = self.predictor(features, embedded, queries)
            in_crop = camera_head.crop_camera(self.camera_head(features), used, tuple(images.shape[-2:]),
                                              self.config.principal)
            crop_points = camera_head.project_to_crop(points3d.float(), in_crop)
            if self.refiner is not None:
                out["coarse2d"] = crops.to_image(crop_points, used)
                correction = self.refiner(maps, crop_points, embedded)
                if self.config.refine_space == "shape":  # a 3D correction, projected again: one consistent 3D answer
                    points3d = points3d + correction
                    crop_points = camera_head.project_to_crop(points3d.float(), in_crop)
                else:  # the image point moves; the 3D point, pose and camera stay the coarse answer's
                    crop_points = crop_points + correction
            out.update(camera_head.image_camera(in_crop, used), landmarks3d=points3d, crop_camera=in_crop)
            if self.assistant is not None:
                out["assist2d"] = crops.to_image(self.assistant(features, embedded), used)
        out.update(landmarks2d=crops.to_image(crop_points, used), crop_points=crop_points)
        return out

    def recrop(self, images: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
        """The crop (B,2,3) where S's template best fits the anchor points read from the crop ``used``."""
        found = self.read_face(images, used, self.anchors)["landmarks2d"].float()
        return crops.fit_similarity(self.template(self.anchors).expand(len(found), -1, -1), found)

    def template_points(self, queries: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
        """(B,K,2) image pixels: S's template points for ``queries`` ((K,3) or (B,K,3)) through the crops ``transform``."""
        template = self.template(queries)
        return crops.to_image(template if template.ndim == 3 else template.expand(len(transform), -1, -1), transform)
