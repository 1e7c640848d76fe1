"""The training loop shared by the three players: Adam, mini-batches, best-validation checkpoint, Eq. 2 when taught."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader

from cmx_bench.fileio import write_bytes_atomic, write_json_atomic
from cmx_bench.train.losses import arcface_loss, distillation_loss, pc_loss, softmax_loss
from cmx_bench.train.presets import TrainConfig


def student_loss_fn(config: TrainConfig):
    """The classification loss l(logits, y) named by the config."""
    if config.loss == "pc":
        return partial(pc_loss, margin=config.margin)
    if config.loss == "softmax":
        return softmax_loss
    if config.loss == "arcface":
        # Cosine heads output s*cos(theta): undo the scale, ArcFace applies its own.
        return lambda logits, labels: arcface_loss(logits / config.arcface_scale, labels,
                                                   scale=config.arcface_scale, margin=config.arcface_margin)
    raise ValueError(f"unknown loss {config.loss}")


def evaluate_accuracy(model, loader) -> tuple[float, torch.Tensor, torch.Tensor]:
    model.eval()
    probs, labels = [], []
    with torch.no_grad():
        for x, y in loader:
            probs.append(torch.softmax(model(x), dim=1))
            labels.append(y)
    probs, labels = torch.cat(probs), torch.cat(labels)
    return float((probs.argmax(1) == labels).float().mean()), probs, labels


def save_checkpoint(model, path: Path, meta: dict) -> None:
    """A weights-only-loadable checkpoint: the state dict plus plain-data facts about how it was made."""
    import io

    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "cmx_bench": meta}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def classification_batch_loss(config: TrainConfig, teacher=None):
    """loss(logits, x, y): the config's student loss, wrapped in Eq. 2 when there is a teacher."""
    student_loss = student_loss_fn(config)
    if teacher is None:
        return lambda logits, x, y: student_loss(logits, y)
    teacher.eval()

    def distilled(logits, x, y):
        with torch.no_grad():
            teacher_logits = teacher(x)
        return distillation_loss(logits, teacher_logits, y, alpha=config.alpha, temperature=config.temperature,
                                 student_loss=student_loss, student_loss_at_t=config.student_loss_at_t)
    return distilled


def accuracy_score(model, loader) -> float:
    return evaluate_accuracy(model, loader)[0]


def fit(model, train_set, val_set, config: TrainConfig, out_dir: Path, meta: dict, *, batch_loss=None,
        score=accuracy_score, teacher=None, on_epoch=None) -> dict:
    """Train `model`; keeps out_dir/best.pth (best validation score) and out_dir/history.json as it goes.

    `batch_loss(logits, x, y)` defaults to the config's loss, in Eq. 2 (alpha, temperature from the config)
    when a `teacher` is given; `score(model, loader)` (higher is better) picks the checkpoint.
    Ctrl-C stops between batches; best.pth then holds the last good checkpoint.
    """
    torch.manual_seed(config.seed)
    out_dir = Path(out_dir)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(config.seed))
    val_loader = DataLoader(val_set, batch_size=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batch_loss = batch_loss or classification_batch_loss(config, teacher)
    history, best = [], {"val_score": -1.0, "epoch": None}
    meta = {**meta, "config": asdict(config), "teacher": meta.get("teacher"), "score": getattr(score, "__name__", "")}
    interrupted = False
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            started, total, seen = time.time(), 0.0, 0
            for x, y in loader:
                loss = batch_loss(model(x), x, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(y)
                seen += len(y)
            # Small data sets give BatchNorm's running averages too few steps to settle: recompute them over
            # this epoch's training data (as SWA does) so that evaluation mode matches what was learned.
            update_bn(loader, model)
            val_score = score(model, val_loader)
            row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_score": val_score,
                   "seconds": time.time() - started}
            history.append(row)
            if val_score > best["val_score"]:
                best = {"val_score": val_score, "epoch": epoch}
                save_checkpoint(model, out_dir / "best.pth", {**meta, "epoch": epoch, "val_score": val_score})
            write_json_atomic(out_dir / "history.json", {"history": history, "best": best, "meta": meta})
            if on_epoch:
                on_epoch(row, best)
    except KeyboardInterrupt:
        interrupted = True
    summary = {"history": history, "best": best, "interrupted": interrupted, "checkpoint": str(out_dir / "best.pth")}
    write_json_atomic(out_dir / "history.json", {**summary, "meta": meta})
    return summary


def load_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
