"""A run's best.pth and last.pth: what they hold, when an epoch is kept, and resuming from them (timm's saver idea)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch

from cmx_bench.errors import CheckpointError
from cmx_bench.fileio import write_bytes_atomic
from cmx_bench.train.engine import unwrap

EPOCH_KEYS = ("epoch", "val_score", "val_loss")  # the meta facts of one epoch, not of the run


@dataclass
class TrainingState:
    """The network and everything that moves it: what last.pth saves and a resume restores."""

    model: torch.nn.Module  # DDP-wrapped across ranks
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    average: torch.optim.swa_utils.AveragedModel | None = None

    @property
    def evaluated(self) -> torch.nn.Module:
        """What validation scores and best.pth keeps: the weight average when there is one."""
        return self.model if self.average is None else self.average.module

    def state_dicts(self) -> dict:
        return {"state_dict": unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dicts(self, saved: dict) -> None:
        unwrap(self.model).load_state_dict(saved["state_dict"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        if self.average is not None:
            self.average.load_state_dict(saved["average"])


def improves(row: dict, best: dict, select: str) -> bool:
    """Whether this epoch's validation beats the kept one: a higher score, or with select 'loss' a lower loss."""
    if best["epoch"] is None:
        return True
    if select == "loss":
        # A run begun before validation losses were recorded has none for its kept epoch.
        return best.get("val_loss") is None or row["val_loss"] < best["val_loss"]
    return row["val_score"] > best["val_score"]


def _checkpoint_bytes(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(model, path: Path, meta: dict) -> None:
    """A weights-only-loadable checkpoint: the state dict plus plain-data facts about how it was made."""
    write_bytes_atomic(path, _checkpoint_bytes({"state_dict": unwrap(model).state_dict(), "cmx_bench": meta}))


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def read_last_checkpoint(out_dir: Path) -> dict:
    path = Path(out_dir) / "last.pth"
    if not path.is_file():
        raise CheckpointError(f"{out_dir} has no last.pth to resume from; start the run without --resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is corrupt ({str(exc).splitlines()[0][:100]}); resume from best.pth "
                              "with --init, or start again") from exc


def resumed_meta(earlier: dict, meta: dict, first_epoch: int) -> dict:
    """A continued run's meta: what its first part recorded, with this part's config, engine and workers, and the
    epoch it continues at added to resumed_at_epochs."""
    kept = {k: v for k, v in earlier.items() if k not in EPOCH_KEYS}
    return {**kept, "config": meta["config"], "engine": meta["engine"], "workers": meta["workers"],
            "resumed_at_epochs": kept.get("resumed_at_epochs", []) + [first_epoch]}


class CheckpointSaver:
    """Owns a run's best.pth (the kept epoch's evaluated weights) and last.pth (everything needed to resume), with
    the history and the kept epoch they record; every rank keeps count, only the main rank writes."""

    def __init__(self, out_dir: Path, state: TrainingState, meta: dict, *, select: str = "score",
                 is_main: bool = True):
        self.out_dir, self.state, self.meta = Path(out_dir), state, meta
        self.select, self.is_main = select, is_main
        self.history: list[dict] = []
        self.best: dict = {"val_score": None, "val_loss": None, "epoch": None}
        self.restored_epoch: int | None = None

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.pth"

    @property
    def last_path(self) -> Path:
        return self.out_dir / "last.pth"

    @property
    def decreasing(self) -> bool:
        """timm's flag: with select 'loss' the kept figure is the lowest, with 'score' the highest."""
        return self.select == "loss"

    def is_better(self, row: dict) -> bool:
        return improves(row, self.best, self.select)

    def save_epoch(self, row: dict) -> bool:
        """Record a finished epoch: best.pth when it beats the kept one (returns whether it did), last.pth always."""
        self.history.append(row)
        better = self.is_better(row)
        if better:
            self.best = {"val_score": row["val_score"], "val_loss": row["val_loss"], "epoch": row["epoch"]}
        if self.is_main:
            if better:
                save_checkpoint(self.state.evaluated, self.best_path, self._epoch_meta(row))
            write_bytes_atomic(self.last_path, _checkpoint_bytes(self._last_payload(row)))
        return better

    def _epoch_meta(self, row: dict) -> dict:
        return {**self.meta, **{key: row[key] for key in EPOCH_KEYS}}

    def _last_payload(self, row: dict) -> dict:
        average = self.state.average
        return {**self.state.state_dicts(), "epoch": row["epoch"], "history": self.history, "best": self.best,
                "rng": _rng_states(), "average": None if average is None else average.state_dict(),
                "cmx_bench": self._epoch_meta(row)}

    def restore(self) -> int:
        """Continue the run in last.pth: its weights, optimiser, schedule, scaler, average, history, kept epoch, RNG
        and meta (this part's config, engine and workers); returns the first epoch left to train."""
        saved = read_last_checkpoint(self.out_dir)
        self.state.load_state_dicts(saved)
        self.history, self.best, self.restored_epoch = saved["history"], saved["best"], saved["epoch"]
        _restore_rng(saved["rng"])
        self.meta = resumed_meta(saved["cmx_bench"], self.meta, saved["epoch"] + 1)
        return saved["epoch"] + 1

    def finished(self, epochs: int) -> bool:
        """Whether the restored run has trained all `epochs`: resuming it then changes nothing, on disk either."""
        return self.restored_epoch is not None and self.restored_epoch >= epochs

    def progress(self) -> dict:
        """What history.json holds after every epoch."""
        return {"history": self.history, "best": self.best, "meta": self.meta}

    def summary(self, interrupted: bool) -> dict:
        """What fit() returns: the epochs, the kept one, and where its checkpoints are."""
        return {"history": self.history, "best": self.best, "interrupted": interrupted,
                "checkpoint": str(self.best_path), "last": str(self.last_path)}
