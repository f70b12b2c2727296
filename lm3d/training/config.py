"""Training configs: one dataclass, size presets, and the rung of the ablation ladder (``--variant``).

``preset("standard", "s-3d")`` is the standard size as the S + 3D head variant; ``configure`` adds overrides
(``--set FIELD=VALUE`` of ``lm3d.train``, ``model.<field>`` for the model). ``validate`` names the first field out
of range, so a bad config fails before any training.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from ..model import ModelConfig
from ..model.landmark_model import VARIANTS, check_ranges, variant_config
from ..synth.sources import MAX_CONVENTION_SCALE
from .objective import LOSSES


@dataclass
class TrainConfig:
    sources: tuple[str, ...] = ("synth300w", "synthwflw", "synthmpie", "synthdense")
    source_weights: tuple[float, ...] = (0.4, 0.25, 0.25, 0.1)
    train_counts: tuple[int, ...] = (4000, 2000, 2000, 800)
    image_size: int = 128
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    max_queries: int = 98
    seed: int = 0
    data_seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 25
    eval_count: int = 500
    # the validation curve (lm3d.training.validation): NME of curve_count validation faces every curve_every steps, in
    # the log beside the training seconds; 0: none. It changes no weight
    curve_every: int = 0
    curve_count: int = 100
    cache_dir: str | None = "data/synthfaces"
    # torch's intra-op threads while training and evaluating (lm3d.runtime.intra_op_threads), so the same command,
    # seed and revision gives the same weights under any OMP_NUM_THREADS; 1: two seeds train at once on two cores.
    # 0 leaves torch's own choice (faster alone on many cores, but not repeatable across thread settings)
    threads: int = 1
    loss: str = "l1"  # the landmark loss: "l1" or "wing" (lm3d.training.objective.LOSSES)
    # every source's convention offsets times this (training and test sets alike): 1 as in sources.json; the
    # experiment of how large conventions must be before D matters (lm3d.reproduce --deformer)
    convention_scale: float = 1.0
    # photometric augmentation of every training image (lm3d.training.augment): colour, gamma, noise, blur, low
    # resolution, JPEG; the pretrained model's schedule uses it, the ladder's tables were made without it
    augment: bool = False
    variant: str = "baseline"
    # S only (variants without a face box); what each one changed is measured in docs/results/spatial_transformer.md
    localiser_lr_scale: float = 1.0  # the localiser's learning rate relative to the rest
    localiser_warmup_steps: int = 0  # S frozen (whole-frame crop) for this many steps
    localiser_pretrain_steps: int = 0  # S alone for this many (cheap) steps first (lm3d.training.localiser_pretraining)
    scale_weight: float = 1.0  # hinge on the crop scale outside the training faces' range
    corner_weight: float = 1.0  # hinge on crop corners beyond corner_margin outside the image
    corner_margin: float = 0.25
    affine_weight: float = 1.0  # distance of an affine S from a similarity
    face_weight: float = 0.1  # face score (binary cross-entropy)
    # the attention localiser's best local maxima ranked by how well each place's crop fits the landmarks
    # (lm3d.training.objective.peak_ranking_loss); 0: off, as in the paper
    peak_weight: float = 0.0
    template_weight: float = 1.0  # S's own landmark loss: the template's points through its crop
    negative_fraction: float = 0.125  # share of each batch that is background-only frames
    negative_count: int = 1000  # background-only frames rendered for training
    # S only: share of faces whose detector crop is S's template fitted to their true landmarks
    # (lm3d.training.data.with_fitted_crops), the crops that re-crop passes (model.recrop) read at inference; 0: the
    # detector reads only S's crops
    fitted_crop_fraction: float = 0.0
    # 3D head only (lm3d.training.objective.head_3d_penalties): points near the template, their size, a weak focal prior
    offset_weight: float = 0.01
    scale_drift_weight: float = 1.0
    focal_prior_weight: float = 0.01
    shear_weight: float = 0.0  # no shear in P's points, which would carry pose (objective.shape_shear)
    deformer_weight: float = 0.01  # D only: L2 on its query offsets (cm^2, mean over annotated points)
    model: ModelConfig = field(default_factory=ModelConfig)

    def validate(self) -> "TrainConfig":
        n = len(self.sources)
        if not (len(self.source_weights) == len(self.train_counts) == n and n > 0):
            raise ValueError(f"sources, source_weights and train_counts need the same length, got "
                             f"{n}, {len(self.source_weights)}, {len(self.train_counts)}")
        checks = {"image_size": 32 <= self.image_size <= 1024, "steps": self.steps >= 1, "batch_size": self.batch_size >= 1,
                  "lr": 0 < self.lr < 1, "weight_decay": 0 <= self.weight_decay < 1, "warmup_steps": self.warmup_steps >= 0,
                  "max_queries": self.max_queries >= 1, "checkpoint_every": self.checkpoint_every >= 1,
                  "log_every": self.log_every >= 1, "eval_count": self.eval_count >= 0,
                  "curve_every": self.curve_every >= 0, "curve_count": self.curve_count >= 1, "threads": 0 <= self.threads <= 256,
                  "loss": self.loss in LOSSES,
                  "train_counts": all(c >= 1 for c in self.train_counts), "seed": self.seed >= 0,
                  "variant": self.variant in VARIANTS, "localiser_lr_scale": 0 <= self.localiser_lr_scale <= 10,
                  "localiser_warmup_steps": self.localiser_warmup_steps >= 0,
                  "localiser_pretrain_steps": self.localiser_pretrain_steps >= 0,
                  "scale_weight": self.scale_weight >= 0, "corner_weight": self.corner_weight >= 0,
                  "corner_margin": 0 <= self.corner_margin <= 2, "affine_weight": self.affine_weight >= 0,
                  "face_weight": self.face_weight >= 0, "template_weight": self.template_weight >= 0,
                  "peak_weight": self.peak_weight >= 0,
                  "negative_fraction": 0 <= self.negative_fraction < 1,
                  "fitted_crop_fraction": 0 <= self.fitted_crop_fraction <= 1,
                  "negative_count": self.negative_count >= 0, "offset_weight": self.offset_weight >= 0,
                  "scale_drift_weight": self.scale_drift_weight >= 0, "focal_prior_weight": self.focal_prior_weight >= 0,
                  "shear_weight": self.shear_weight >= 0,
                  "deformer_weight": self.deformer_weight >= 0,
                  "convention_scale": 0 <= self.convention_scale <= MAX_CONVENTION_SCALE,
                  "augment": isinstance(self.augment, bool)}
        check_ranges("training", self, checks)
        if self.peak_weight > 0 and self.model.crop != "box" and (self.model.localiser != "attention" or self.model.second_pass):
            raise ValueError(f"peak_weight={self.peak_weight} ranks the peaks of the attention localiser's score map: "
                             f"it needs model.localiser='attention' (not {self.model.localiser!r}) and no second pass")
        if self.model.crop != VARIANTS[self.variant]["crop"]:
            raise ValueError(f"variant {self.variant!r} needs model crop {VARIANTS[self.variant]['crop']!r}, "
                             f"the model config has {self.model.crop!r}")
        if self.model.deformer and self.model.datasets != tuple(self.sources):
            raise ValueError(f"the deformer's datasets {list(self.model.datasets)} must be the training sources "
                             f"{list(self.sources)}, in order")
        self.model.validate()
        return self

    def what_matters(self) -> "TrainConfig":
        """This config with the fields its model does not use at their defaults (a box model trains no S, a 2D
        head has no 3D priors), so that a preset's defaults for S can change without stopping a box model's
        checkpoint from resuming."""
        unused = ((S_TRAIN_FIELDS if self.model.crop == "box" else ()) + (HEAD_3D_TRAIN_FIELDS if self.model.head == "2d" else ())
                  + (DEFORMER_TRAIN_FIELDS if not self.model.deformer else ()))
        defaults = TrainConfig()
        return replace(self, model=self.model.what_matters(), **{name: getattr(defaults, name) for name in unused})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["model"] = ModelConfig(**data.get("model", {}))
        for key in ("sources", "source_weights", "train_counts"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


S_TRAIN_FIELDS = ("localiser_lr_scale", "localiser_warmup_steps", "localiser_pretrain_steps", "scale_weight",
                  "corner_weight", "corner_margin", "affine_weight", "face_weight", "peak_weight", "template_weight",
                  "negative_fraction", "negative_count", "fitted_crop_fraction")
HEAD_3D_TRAIN_FIELDS = ("offset_weight", "scale_drift_weight", "focal_prior_weight", "shear_weight")
DEFORMER_TRAIN_FIELDS = ("deformer_weight",)

PRESETS = {
    # CI: a few seconds on a 2-core CPU; proves the loop, not the accuracy
    "fast": TrainConfig(sources=("synth300w", "synthwflw", "synthdense"), source_weights=(0.5, 0.3, 0.2),
                        train_counts=(48, 32, 16), image_size=64, steps=12, batch_size=8, warmup_steps=2,
                        checkpoint_every=6, log_every=4, eval_count=16, cache_dir=None,
                        model=ModelConfig(crop_size=48, width=8, feature_dim=32, query_dim=32, hidden=32, layers=2)),
    # the regime chosen by experiment (docs/results/regime.md): at most 20 minutes a seed on one core of a 2-core CPU,
    # two seeds at once: 256 px frames, F's grid pooling for every rung, F's convolutions in bfloat16, the Wing loss,
    # the refiner R, 6000 steps, twice the old pool of distinct training faces. S (ignored by a box model): a 256 px
    # view in bfloat16, half the faces read through the template fitted to their landmarks, three re-crops at inference.
    # The 3D head (ignored by a 2D head): a 2D assistant beside P, the principal point at the image centre
    "standard": TrainConfig(image_size=256, steps=6000, loss="wing", train_counts=(8000, 4000, 4000, 1600), curve_every=500,
                            fitted_crop_fraction=0.5,
                            model=ModelConfig(crop_size=96, width=16, feature_dim=192, query_dim=96, hidden=192,
                                              pooling="grid", feature_precision="bfloat16", refine=True,
                                              localiser_size=256, localiser_precision="bfloat16", recrop=3,
                                              assist_2d=True, principal="image")),
    # the standard preset before that search (128 px, mean pooling, L1, float32, 3000 steps, threads left to torch):
    # the preset of the tables in docs/results that are marked as made with it
    "legacy": TrainConfig(threads=0, model=ModelConfig(crop_size=96, width=16, feature_dim=192, query_dim=96,
                                                        hidden=192)),
    # the pretrained model (Detector.from_pretrained, docs/model_card.md): the standard regime scaled up for a long CPU
    # run of the full model (--variant full): twice the distinct training faces and background frames, photometric
    # augmentation, a longer schedule
    "pretrained": TrainConfig(image_size=256, steps=20000, loss="wing", train_counts=(16000, 8000, 8000, 3200),
                              warmup_steps=300, curve_every=1000, fitted_crop_fraction=0.5, negative_count=2000,
                              augment=True,
                              model=ModelConfig(crop_size=96, width=16, feature_dim=192, query_dim=96, hidden=192,
                                                pooling="grid", feature_precision="bfloat16", refine=True,
                                                localiser_size=256, localiser_precision="bfloat16", recrop=3,
                                                assist_2d=True, principal="image")),
    # one GPU: larger images, model and schedule (the regime's choices; not measured yet)
    "paper": TrainConfig(train_counts=(40000, 20000, 20000, 8000), image_size=256, steps=40000, batch_size=128,
                         lr=1e-3, warmup_steps=1000, checkpoint_every=2000, log_every=100, eval_count=2000, loss="wing",
                         model=ModelConfig(crop_size=160, width=48, feature_dim=384, query_dim=128, hidden=384,
                                           pooling="grid", refine=True)),
}


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at the last step."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def preset(name: str, variant: str = "baseline", **overrides) -> TrainConfig:
    """The size preset ``name`` as the model ``variant``, with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    config = replace(PRESETS[name], **overrides)
    # a variant with D knows the datasets it is trained on, named as the sources are
    model = variant_config(variant, config.model, datasets=tuple(config.sources))
    return replace(config, variant=variant, model=model).validate()


def configure(preset_name: str, variant: str = "baseline", seed: int = 0, settings: dict | None = None) -> TrainConfig:
    """A preset as a variant, with ``settings`` overriding training fields and ``model.<field>`` model fields."""
    settings = dict(settings or {})
    model_fields = {k[6:]: settings.pop(k) for k in list(settings) if k.startswith("model.")}
    unknown = set(settings) - {f.name for f in fields(TrainConfig)} | set(model_fields) - {f.name for f in fields(ModelConfig)}
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; use TrainConfig fields or model.<ModelConfig field>")
    config = preset(preset_name, variant, seed=seed, **settings)
    if not model_fields:
        return config
    model = replace(config.model, **model_fields)
    if model.deformer and not model.datasets:  # --set model.deformer=true on another variant: D knows the sources
        model = replace(model, datasets=tuple(config.sources))
    return replace(config, model=model).validate()
