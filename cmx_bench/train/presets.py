"""Training presets: the paper's settings and a CPU-sized variant; every field can be overridden."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cmx_bench.data.augment import TRAINING_POLICIES
from cmx_bench.errors import CmxError, UnknownNameError


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    input_size: int = 224
    loss: str = "pc"            # pc, arcface or softmax
    margin: float = 0.8         # PC loss margin xi (Eq. 1)
    arcface_scale: float = 30.0
    arcface_margin: float = 0.5
    alpha: float = 0.8          # distillation strength (Eq. 2)
    temperature: float = 5.0    # distillation temperature t (Eq. 2)
    student_loss_at_t: bool = True  # Eq. 2 as written: l(S^t(x), y); False: l(S(x), y) as in Hinton et al.
    seed: int = 0
    optimizer: str = "adam"     # adam (the paper's) or adamw (decoupled weight decay)
    schedule: str = "cosine"    # cosine (after linear warmup) or constant (the paper's fixed learning rate)
    warmup_epochs: float = 1.0
    bn_refresh: str = "auto"    # recompute BatchNorm statistics after each epoch: on, off, auto (small data only)
    augment: str = "light"      # training augmentation (data/augment.py): light or strong
    balance: str = "none"       # sampling (train/sampling.py): none, label, or source (each source and label alike)
    ema: float = 0.0            # weight average's decay per optimizer step (train/averaging.py); 0: off
    select: str = "score"       # what picks best.pth: the validation score (higher) or the validation loss (lower)


PRESETS = {
    # Section 3.3: Adam, mini-batch 32, 50 epochs, best validation checkpoint; 224 px inputs; no schedule is given.
    "paper": TrainConfig(schedule="constant"),
    # Fits a 2-core machine: 128 px inputs, fewer epochs, a larger learning rate for random initialisation.
    "cpu": TrainConfig(epochs=12, input_size=128, lr=5e-4),
    # For tests and demos on phantoms.
    "tiny": TrainConfig(epochs=8, input_size=64, lr=5e-4, batch_size=16),
}


CHOICES = {"loss": ("pc", "arcface", "softmax"), "optimizer": ("adam", "adamw"), "schedule": ("cosine", "constant"),
           "bn_refresh": ("auto", "on", "off"), "augment": TRAINING_POLICIES,
           "balance": ("none", "label", "source"), "select": ("score", "loss")}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}")
    config = replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
    for field, allowed in CHOICES.items():
        if getattr(config, field) not in allowed:
            raise UnknownNameError(f"unknown {field.replace('_', '-')} '{getattr(config, field)}'; choose one of: "
                                   f"{', '.join(allowed)}")
    if not 0.0 <= config.ema < 1.0:
        raise CmxError(f"--ema {config.ema} is not a decay; pass a number in [0, 1), e.g. 0.98 (0 turns it off)")
    return config


def replace_config(config: TrainConfig, **changes) -> TrainConfig:
    return replace(config, **changes)
