"""What a training run writes as it goes: history.json, metrics.csv, the training-curve PNG, TensorBoard events."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cmx_bench.errors import CmxError
from cmx_bench.fileio import write_bytes_atomic, write_json_atomic, write_text_atomic

COLUMNS = ("epoch", "train_loss", "val_score", "val_loss", "lr", "images_per_s", "train_seconds", "bn_refresh_seconds",
           "seconds")


def metrics_csv(history: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def curves_png(history: list[dict], score_name: str, kept_epoch: int | None = None) -> bytes:
    """Training loss, validation loss and validation score against the epoch, the kept (best.pth) epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, val_loss_axis, score_axis) = plt.subplots(1, 3, figsize=(12, 3.4))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o", ms=3)
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    losses = [(row["epoch"], row["val_loss"]) for row in history if row.get("val_loss") is not None]
    if losses:
        val_loss_axis.plot(*zip(*losses), marker="o", ms=3, color="tab:red")
    else:  # a run resumed from before validation losses were recorded
        val_loss_axis.text(0.5, 0.5, "not recorded by this run", ha="center", transform=val_loss_axis.transAxes)
    loss_name = "validation BCE" if score_name == "mean_auroc_score" else "validation cross-entropy"
    val_loss_axis.set(xlabel="epoch", ylabel=loss_name, title="Validation loss")
    score_axis.plot(epochs, [row["val_score"] for row in history], marker="o", ms=3, color="tab:green")
    label = {"accuracy_score": "validation accuracy", "mean_auroc_score": "validation mean AUROC"}.get(
        score_name, "validation score")
    score_axis.set(xlabel="epoch", ylabel=label, title="Validation score")
    kept = next((row for row in history if row["epoch"] == kept_epoch), None)
    for axis, key in ((val_loss_axis, "val_loss"), (score_axis, "val_score")):
        if kept is not None and kept.get(key) is not None:
            axis.axvline(kept["epoch"], color="grey", ls=":", lw=1)
            axis.annotate(f"kept {kept[key]:.3f}", (kept["epoch"], kept[key]), textcoords="offset points",
                          xytext=(4, -12), fontsize=8)
    for axis in (loss_axis, val_loss_axis, score_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


class RunLog:
    """Rewrites the run's files after every epoch (atomically), so a crash or Ctrl-C keeps what was measured."""

    def __init__(self, out_dir: Path, *, enabled: bool = True, tensorboard: bool = False):
        self.out_dir, self.enabled, self.writer = Path(out_dir), enabled, None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise CmxError("--tensorboard needs the tensorboard package: pip install 'cmx-bench[tensorboard]'") \
                    from exc
            self.writer = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))

    def epoch(self, row: dict, state: dict) -> None:
        if not self.enabled:
            return
        history = state["history"]
        write_json_atomic(self.out_dir / "history.json", state)
        write_text_atomic(self.out_dir / "metrics.csv", metrics_csv(history))
        curves = curves_png(history, state["meta"].get("score", ""), state["best"]["epoch"])
        write_bytes_atomic(self.out_dir / "curves.png", curves)
        if self.writer is not None:
            for key in ("train_loss", "val_score", "val_loss", "lr", "images_per_s"):
                self.writer.add_scalar(key, row[key], row["epoch"])
            self.writer.flush()

    def finish(self, summary: dict) -> None:
        if self.enabled:
            write_json_atomic(self.out_dir / "history.json", summary)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
