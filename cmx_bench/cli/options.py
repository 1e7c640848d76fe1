"""Options shared by several commands, declared once, and the parsing of their values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from cmx_bench.errors import CmxError

# Where and how a training or evaluation runs: never part of a recipe.
Accelerator = Annotated[str, typer.Option("--accelerator", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps.")]
Precision = Annotated[str, typer.Option("--precision", help="fp32, bf16 or fp16 (CUDA/MPS), through torch.autocast.")]
Workers = Annotated[Optional[int], typer.Option("--workers", min=0, help="DataLoader worker processes "
                                                                         "(default min(4, CPUs)).")]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Leave out unreadable images and bad manifest rows "
                                                         "(counted) instead of stopping.")]
TrustPickle = Annotated[bool, typer.Option("--trust-pickle", help="Allow whole-model pickles (loading runs their "
                                                                  "code).")]
RecipeFile = Annotated[Optional[Path], typer.Option("--recipe", help="A TOML file of this command's options "
                                                                     "(keys as the options, without '--'); the "
                                                                     "command line overrides it. A run folder's "
                                                                     "recipe.toml repeats that run.")]

# The recipe: what a run learns. Each may also come from --recipe; None means "the file's, else the preset's".
Preset = Annotated[Optional[str], typer.Option("--preset", help="paper (224 px, 50 epochs), cpu (128 px, the "
                                                                "default) or tiny.")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", min=1)]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Global batch, divided over the ranks.")]
LearningRate = Annotated[Optional[float], typer.Option("--lr", min=0.0)]
Optimizer = Annotated[Optional[str], typer.Option("--optimizer", help="adam (the paper's) or adamw.")]
WeightDecay = Annotated[Optional[float], typer.Option("--weight-decay", min=0.0)]
Schedule = Annotated[Optional[str], typer.Option("--schedule", help="cosine (linear warmup, then cosine) or "
                                                                    "constant.")]
WarmupEpochs = Annotated[Optional[float], typer.Option("--warmup-epochs", min=0.0)]
BnRefresh = Annotated[Optional[str], typer.Option("--bn-refresh", help="Recompute BatchNorm statistics after each "
                                                                       "epoch: auto (small data), on or off.")]
Augment = Annotated[Optional[str], typer.Option("--augment", help="Training augmentation: light (rotation, random "
                                                                  "crop) or strong (also scale, flip, intensity).")]
Balance = Annotated[Optional[str], typer.Option("--balance", help="Sampling: none, label (classes drawn equally "
                                                                  "often) or source (each source's each class).")]
Ema = Annotated[Optional[float], typer.Option("--ema", help="Keep a moving average of the weights with this decay "
                                                            "per step (e.g. 0.98); validated and saved instead.")]
Select = Annotated[Optional[str], typer.Option("--select", help="What picks best.pth: score (validation accuracy; "
                                                                "ap: mean AUROC) or loss (lowest validation loss).")]
StudentLossAt = Annotated[Optional[str], typer.Option("--student-loss-at", help="ms, Eq. 2's l(S^t(x), y): t (as "
                                                      "the paper writes it) or 1 (l(S(x), y), as Hinton et al.).")]
InputSize = Annotated[Optional[int], typer.Option("--input-size", min=32)]
Loss = Annotated[Optional[str], typer.Option("--loss", help="pc (Eq. 1), arcface or softmax.")]
Margin = Annotated[Optional[float], typer.Option("--margin", help="PC loss margin xi.")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed of initialisation, sampling and augmentation.")]
Alpha = Annotated[Optional[float], typer.Option("--alpha", help="Eq. 2 distillation strength.")]
Temperature = Annotated[Optional[float], typer.Option("--temperature", "-t", help="Eq. 2 temperature.")]
Student = Annotated[Optional[str], typer.Option("--model", "-m", help="The student network (default "
                                                                      "shufflenet_v2_x1_0).")]
Snapshots = Annotated[Optional[Path], typer.Option("--snapshots", help="Also train on these snapshot twins "
                                                                       "(manifest from 'data snapshots').")]


def loader_workers(workers: int | None) -> int:
    """--workers, or by default one DataLoader process per CPU this process may use, at most 4."""
    if workers is not None:
        return workers
    return min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def parse_weights(values: list[str], models: list[str]) -> dict[str, Path]:
    """`--weights PATH` (one model) or `--weights MODEL=PATH` (any number)."""
    weights = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name in models:
            weights[name] = Path(path)
        elif len(models) == 1:
            weights[models[0]] = Path(value)
        else:
            raise CmxError(f"--weights {value} is ambiguous with {len(models)} models; write --weights MODEL=PATH")
    return weights
