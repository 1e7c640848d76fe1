"""`cmx-bench train rf|ms` and `cmx-bench evaluate`: the three-player pipeline on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cmx_bench.cli.render import console

def _config(preset, **overrides):
    from cmx_bench.train.presets import preset as make

    return make(preset, **overrides)


def default_workers() -> int:
    import os

    return min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class TrainingProgress:
    """On a terminal, a bar over all images of all epochs with images/s and ETA; in a log, one line per epoch.
    Only the main rank speaks."""

    def __init__(self, title: str, enabled: bool):
        self.title, self.enabled, self.progress, self.task, self.epochs = title, enabled, None, None, 0

    def on_start(self, first_epoch: int, epochs: int, images_per_epoch: int) -> None:
        from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.epochs = epochs
        if not (self.enabled and console.is_terminal):
            return
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=console)
        self.progress.start()
        self.task = self.progress.add_task(f"{self.title} epoch {first_epoch}/{epochs}", status="", rate="",
                                           total=(epochs - first_epoch + 1) * images_per_epoch)

    def on_batch(self, images: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, images)
            speed = self.progress.tasks[0].speed
            self.progress.update(self.task, rate=f"{speed:,.0f} img/s" if speed else "")

    def on_epoch(self, row: dict, best: dict) -> None:
        if not self.enabled:
            return
        line = (f"epoch {row['epoch']}/{self.epochs}  loss {row['train_loss']:.3f}  val {row['val_score']:.3f} "
                f"(loss {row['val_loss']:.3f})  kept epoch {best['epoch']}  {row['images_per_s']:,.0f} img/s  "
                f"{row['seconds']:.0f} s")
        if self.progress is None:
            console.print(f"{self.title} {line}", highlight=False, soft_wrap=True)
        else:
            self.progress.update(self.task, description=f"{self.title} epoch {min(row['epoch'] + 1, self.epochs)}/"
                                                        f"{self.epochs}", status=line.split("  ", 1)[1])

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def train(
    player: str = typer.Argument(..., help="ap (pre-trained on ChestX-ray14), rf (the DenseNet-121 teacher) or ms "
                                           "(a student, distilled with --teacher)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Manifest (with split) or class folders; for ap the NIH "
                                                            "folder. Not needed with --resume."),
    model: str = typer.Option("shufflenet_v2_x1_0", "--model", "-m", help="ms: the student network."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="ms: RF checkpoint; omit for the no-teacher baseline."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Eq. 2 distillation strength."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Eq. 2 temperature."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder: best.pth, last.pth, history.json, "
                                                                "metrics.csv, curves.png (default runs/PLAYER)."),
    init: Optional[str] = typer.Option(None, "--init", help="rf: an AP checkpoint; ms: a student one; or 'imagenet' "
                                                           "(torchvision's weights, downloaded once into the torch cache)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder from its last.pth."),
    preset: str = typer.Option("cpu", "--preset", help="paper (224 px, 50 epochs), cpu (128 px) or tiny."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Global batch, divided over the ranks."),
    lr: Optional[float] = typer.Option(None, "--lr"),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adam (the paper's) or adamw."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", min=0.0),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="cosine (linear warmup, then cosine) or constant."),
    warmup_epochs: Optional[float] = typer.Option(None, "--warmup-epochs", min=0.0),
    bn_refresh: Optional[str] = typer.Option(None, "--bn-refresh", help="Recompute BatchNorm statistics after each "
                                                                        "epoch: auto (small data), on or off."),
    augment: Optional[str] = typer.Option(None, "--augment", help="Training augmentation: light (rotation, random "
                                                                  "crop) or strong (also scale, flip, intensity)."),
    balance: Optional[str] = typer.Option(None, "--balance", help="Sampling: none, label (classes drawn equally "
                                                                  "often) or source (each source's each class)."),
    ema: Optional[float] = typer.Option(None, "--ema", help="Keep a moving average of the weights with this decay "
                                                          "per step (e.g. 0.98); validated and saved instead."),
    select: Optional[str] = typer.Option(None, "--select", help="What picks best.pth: score (validation accuracy; "
                                                                "ap: mean AUROC) or loss (lowest validation loss)."),
    student_loss_at: Optional[str] = typer.Option(None, "--student-loss-at", help="ms, Eq. 2's l(S^t(x), y): t (as "
                                                  "the paper writes it) or 1 (l(S(x), y), as Hinton et al.)."),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=32),
    loss: Optional[str] = typer.Option(None, "--loss", help="pc (Eq. 1), arcface or softmax."),
    margin: Optional[float] = typer.Option(None, "--margin", help="PC loss margin xi."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    snapshots: Optional[Path] = typer.Option(None, "--snapshots", help="rf/ms: also train on these snapshot twins "
                                                                      "(manifest from 'data snapshots')."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Read images from this 'data cache' folder."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="DataLoader worker processes "
                                                                         "(default min(4, CPUs))."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (CUDA/MPS), through torch.autocast."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Under torchrun on CUDA: SyncBatchNorm across ranks."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also write TensorBoard events (needs tensorboard)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out bad images and rows (counted) instead of stopping."),
):
    """Train a player: AP (multi-label), RF (from --init AP) or MS (Eq. 2 from --teacher); keeps the best validation
    checkpoint. Under torchrun, each rank trains on its share of every batch (DDP)."""
    from cmx_bench.errors import CmxError
    from cmx_bench.train.engine import start_engine, stop_engine
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.train.service import TrainRequest, resumed_request, train_player

    if resume is not None:
        request, config = resumed_request(player, resume, epochs)
    else:
        if data is None:
            raise CmxError("train needs --data (a manifest or class folders), or --resume RUN_DIR")
        config = _config(preset, epochs=epochs, batch_size=batch_size, lr=lr, input_size=input_size, loss=loss,
                         margin=margin, seed=seed, alpha=alpha, temperature=temperature, optimizer=optimizer,
                         weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
                         bn_refresh=bn_refresh, augment=augment, balance=balance, ema=ema, select=select,
                         student_loss_at_t=_student_loss_at_t(student_loss_at))
        request = TrainRequest(player=player, data=data, out=out or Path("runs") / player, model=model,
                               teacher=teacher, init=init, skip_bad=skip_bad, cache=cache, snapshots=snapshots)
    engine = start_engine(accelerator, precision, sync_bn=sync_bn)
    progress = TrainingProgress(f"train {request.model_name}", enabled=engine.is_main)
    run = TrainRunOptions(engine=engine, workers=default_workers() if workers is None else workers,
                          resume=resume is not None, tensorboard=tensorboard, sync_bn=sync_bn,
                          on_start=progress.on_start, on_batch=progress.on_batch, on_epoch=progress.on_epoch)
    try:
        summary = train_player(request, config, run)
    finally:
        progress.close()
        stop_engine(engine)
    if not engine.is_main:
        return
    if summary["skipped"]:
        console.print(f"[yellow]skipped {len(summary['skipped'])} bad input(s)[/]: {summary['skipped'][0]}")
    if summary["interrupted"]:
        console.print(f"[yellow]interrupted[/]: continue with 'cmx-bench train {player} --resume {request.out}'")
    best = summary["best"]
    if best["epoch"] is None:
        console.print(f"no epoch finished; nothing was saved in {request.out}")
        return
    picked_by = "lowest validation loss" if config.select == "loss" else "best validation score"
    console.print(f"{picked_by} at epoch {best['epoch']} (score {best['val_score']:.3f}, loss "
                  f"{_number(best.get('val_loss'))}); checkpoint {summary['checkpoint']}; "
                  f"curves {request.out / 'curves.png'}")


def evaluate(
    weights: Path = typer.Option(..., "--weights", "-w"),
    data: Path = typer.Option(..., "--data", help="Manifest (with split) or class folders."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Network; by default the one a cmx-bench checkpoint was trained as."),
    split: Optional[str] = typer.Option("test", "--split", help="Split to evaluate; 'all' for every image."),
    snapshots: Optional[Path] = typer.Option(None, "--snapshots", help="Snapshot twins (manifest from 'data snapshots')."),
    out: Path = typer.Option(Path("runs/eval"), "--out", "-o",
                             help="A new folder: an evaluation is never overwritten."),
    gradcam: int = typer.Option(4, "--gradcam", min=0, help="COVID images to explain with Grad-CAM (0: none)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out bad images and rows (counted) instead of stopping."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (CUDA/MPS), through torch.autocast."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="DataLoader worker processes."),
):
    """Accuracy, per-class recall, the three AUROCs, per-source accuracy, ROC, t-SNE and Grad-CAM figures."""
    import pandas as pd

    from cmx_bench.cli.render import frame_table
    from cmx_bench.evaluate.evaluation import evaluate_checkpoint

    from cmx_bench.train.engine import PRECISIONS, start_engine

    engine = start_engine(accelerator, precision)
    with console.status(f"evaluating on {engine.device}"):
        results = evaluate_checkpoint(model, weights, data, out, split=None if split == "all" else split,
                                      snapshots=snapshots, gradcam_images=gradcam, skip_bad=skip_bad,
                                      device=engine.device, dtype=PRECISIONS[precision],
                                      workers=default_workers() if workers is None else workers)
    rows = []
    for name, metrics in results["sets"].items():
        rows.append({"Set": name, "Images": metrics["images"], "Accuracy": metrics["accuracy"],
                     **{f"AUROC {k}": v for k, v in metrics["auroc"].items()}})
    console.print(frame_table(pd.DataFrame(rows), f"{results['model']} on {split}"))
    for name, metrics in results["sets"].items():
        ci = metrics["ci95"]
        console.print(f"  {name}: accuracy {metrics['accuracy']:.3f} (95% CI {_interval(ci['accuracy'])}), AUROC "
                      f"covid_vs_rest {_number(metrics['auroc']['covid_vs_rest'])} "
                      f"(95% CI {_interval(ci['auroc']['covid_vs_rest'])}); {ci['method']}, {ci['resamples']} resamples")
    for name, metrics in results["sets"].items():
        for source, value in metrics.get("per_source_accuracy", {}).items():
            console.print(f"  {name} {source}: accuracy {value['accuracy']:.3f} over {value['images']} images")
    console.print(f"figures, evaluation.json and predictions.csv in {out}")


def _student_loss_at_t(value: str | None) -> bool | None:
    from cmx_bench.errors import UnknownNameError

    if value is None:
        return None
    if value not in ("t", "1"):
        raise UnknownNameError(f"unknown --student-loss-at '{value}'; choose t (Eq. 2 as written) or 1 (Hinton et al.)")
    return value == "t"


def _interval(bounds: list[float] | None) -> str:
    return "n/a" if bounds is None else f"{bounds[0]:.3f}-{bounds[1]:.3f}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _floats(text: str) -> list[float]:
    from cmx_bench.errors import CmxError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise CmxError(f"'{text}' is not a comma-separated list of numbers") from exc


def sweep(
    model: str = typer.Option("shufflenet_v2_x1_0", "--model", "-m", help="The student backbone."),
    data: Path = typer.Option(..., "--data", help="Clean images: manifest with a split column."),
    teacher: Path = typer.Option(..., "--teacher", help="RF checkpoint for the clean students."),
    snapshots: Optional[Path] = typer.Option(None, "--snapshots", help="Snapshot twins' manifest: also train on them."),
    snapshot_teacher: Optional[Path] = typer.Option(None, "--snapshot-teacher", help="RF trained on snapshots "
                                                                                     "(default: --teacher)."),
    alphas: str = typer.Option("0.2,0.4,0.6,0.8", "--alphas", help="Alpha values (rows at T = 5)."),
    temperatures: str = typer.Option("1,5,10", "--temperatures", help="Temperatures (rows at alpha = 0.8)."),
    losses: str = typer.Option("pc0.8,pc0.995,arcface,softmax", "--losses", help="pc<margin>, arcface, softmax."),
    preset: str = typer.Option("cpu", "--preset"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    select: Optional[str] = typer.Option(None, "--select", help="What picks best.pth: score (validation accuracy; "
                                                                "ap: mean AUROC) or loss (lowest validation loss)."),
    student_loss_at: Optional[str] = typer.Option(None, "--student-loss-at", help="Eq. 2's l(S^t(x), y): t (as "
                                                  "written) or 1 (l(S(x), y), as Hinton et al.)."),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=32),
    lr: Optional[float] = typer.Option(None, "--lr"),
    augment: Optional[str] = typer.Option(None, "--augment", help="Training augmentation: light or strong."),
    balance: Optional[str] = typer.Option(None, "--balance", help="Sampling: none, label or source."),
    bn_refresh: Optional[str] = typer.Option(None, "--bn-refresh", help="auto (small data), on or off."),
    ema: Optional[float] = typer.Option(None, "--ema", help="Weight average's decay per step (e.g. 0.98)."),
    out: Path = typer.Option(Path("runs/sweep"), "--out", "-o", help="Cells, checkpoints and tables.md go here."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (CUDA/MPS), through torch.autocast."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="DataLoader worker processes."),
):
    """Distil one student per (alpha, T, loss) cell on clean images and snapshots; resumable; Tables 2-4 layout."""
    from rich.progress import Progress

    from cmx_bench.fileio import write_text_atomic
    from cmx_bench.report.sweep_tables import sweep_tables_markdown
    from cmx_bench.train.engine import start_engine
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.train.sweep import paper_accuracy, paper_grid, run_sweep

    loss_list = [v.strip() for v in losses.split(",") if v.strip()]
    cells = paper_grid(_floats(alphas), _floats(temperatures), loss_list)
    sets = {"clean": data, **({"snapshot": snapshots} if snapshots else {})}
    teachers = {"clean": teacher, "snapshot": snapshot_teacher or teacher}
    config = _config(preset, epochs=epochs, input_size=input_size, lr=lr, augment=augment, balance=balance,
                     bn_refresh=bn_refresh, ema=ema, select=select,
                     student_loss_at_t=_student_loss_at_t(student_loss_at))
    with Progress(console=console) as progress:
        task = progress.add_task(f"sweep {model}", total=len(cells) * len(sets))

        def on_cell(record, skipped):
            progress.update(task, advance=1, description=f"{model} a={record['alpha']:g} t={record['temperature']:g} "
                            f"{record['loss']} {record['data']}: {record['test_accuracy']:.3f}"
                            + (" (done before)" if skipped else ""))

        run = TrainRunOptions(engine=start_engine(accelerator, precision),
                              workers=default_workers() if workers is None else workers)
        records = run_sweep(model, sets, teachers, out, config, cells, on_cell=on_cell, run=run)
    tables = write_text_atomic(out / "tables.md", sweep_tables_markdown(model, records, paper_accuracy(model),
                                                                       loss_list))
    console.print(f"{len(records)} cells; Tables 2-4 layout in {tables}")
