"""`cmx-bench train rf|ms` and `cmx-bench evaluate`: the three-player pipeline on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cmx_bench.cli.options import (Accelerator, Alpha, Augment, Balance, BatchSize, BnRefresh, Ema, Epochs,
                                   InputSize, LearningRate, Loss, Margin, Optimizer, Precision, Preset, RecipeFile,
                                   Schedule, Seed, Select, SkipBad, Snapshots, Student, StudentLossAt, Temperature,
                                   TrustPickle, WarmupEpochs, WeightDecay, Workers, loader_workers)
from cmx_bench.cli.render import console


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
    recipe: RecipeFile = None,
    data: Optional[Path] = typer.Option(None, "--data", help="Manifest (with split) or class folders; for ap the NIH "
                                                            "folder. Not needed with --resume."),
    model: Student = None,
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="ms: RF checkpoint; omit for the no-teacher baseline."),
    alpha: Alpha = None,
    temperature: Temperature = None,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder: best.pth, last.pth, history.json, "
                                                                "metrics.csv, curves.png, recipe.toml (default "
                                                                "runs/PLAYER)."),
    init: Optional[str] = typer.Option(None, "--init", help="rf: an AP checkpoint; ms: a student one; or 'imagenet' "
                                                           "(torchvision's weights, downloaded once into the torch cache)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder from its last.pth."),
    preset: Preset = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    optimizer: Optimizer = None,
    weight_decay: WeightDecay = None,
    schedule: Schedule = None,
    warmup_epochs: WarmupEpochs = None,
    bn_refresh: BnRefresh = None,
    augment: Augment = None,
    balance: Balance = None,
    ema: Ema = None,
    select: Select = None,
    student_loss_at: StudentLossAt = None,
    input_size: InputSize = None,
    loss: Loss = None,
    margin: Margin = None,
    seed: Seed = None,
    snapshots: Snapshots = None,
    cache: Optional[Path] = typer.Option(None, "--cache", help="Read images from this 'data cache' folder."),
    workers: Workers = None,
    accelerator: Accelerator = "auto",
    precision: Precision = "fp32",
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Under torchrun on CUDA: SyncBatchNorm across ranks."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also write TensorBoard events (needs tensorboard)."),
    skip_bad: SkipBad = False,
    trust_pickle: TrustPickle = False,
):
    """Train a player: AP (multi-label), RF (from --init AP) or MS (Eq. 2 from --teacher); keeps the best validation
    checkpoint and the resolved recipe. Under torchrun, each rank trains on its share of every batch (DDP)."""
    from cmx_bench.train.engine import start_engine, stop_engine
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.train.recipe import TRAIN_KEYS
    from cmx_bench.train.service import train_request, train_player

    given = {field: value for field, value in locals().items() if field in TRAIN_KEYS}
    request, config = train_request(player, recipe, given, out=out, resume=resume, trust_pickle=trust_pickle)
    engine = start_engine(accelerator, precision, sync_bn=request.sync_bn)
    progress = TrainingProgress(f"train {request.model_name}", enabled=engine.is_main)
    run = TrainRunOptions(engine=engine, workers=loader_workers(workers), resume=resume is not None,
                          tensorboard=request.tensorboard, sync_bn=request.sync_bn,
                          on_start=progress.on_start, on_batch=progress.on_batch, on_epoch=progress.on_epoch)
    try:
        summary = train_player(request, config, run)
    finally:
        progress.close()
        stop_engine(engine)
    if engine.is_main:
        _print_training_summary(summary, request, config)


def _print_training_summary(summary: dict, request, config) -> None:
    if summary["skipped"]:
        console.print(f"[yellow]skipped {len(summary['skipped'])} bad input(s)[/]: {summary['skipped'][0]}")
    if summary["interrupted"]:
        console.print(f"[yellow]interrupted[/]: continue with 'cmx-bench train {request.player} --resume "
                      f"{request.out}'")
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
    skip_bad: SkipBad = False,
    trust_pickle: TrustPickle = False,
    accelerator: Accelerator = "auto",
    precision: Precision = "fp32",
    workers: Workers = None,
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
                                      workers=loader_workers(workers), trust_pickle=trust_pickle)
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
            ci = f" (95% CI {_interval(value['ci95'])})" if value.get("ci95") is not None else ""
            console.print(f"  {name} {source}: accuracy {value['accuracy']:.3f}{ci} over {value['images']} images")
    console.print(f"figures, evaluation.json and predictions.csv in {out}")


def _interval(bounds: list[float] | None) -> str:
    return "n/a" if bounds is None else f"{bounds[0]:.3f}-{bounds[1]:.3f}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def sweep(
    recipe: RecipeFile = None,
    model: Student = None,
    data: Optional[Path] = typer.Option(None, "--data", help="Clean images: manifest with a split column."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="RF checkpoint for the clean students."),
    snapshots: Snapshots = None,
    snapshot_teacher: Optional[Path] = typer.Option(None, "--snapshot-teacher", help="RF trained on snapshots "
                                                                                     "(default: --teacher)."),
    alphas: Optional[str] = typer.Option(None, "--alphas", help="Alpha values (rows at T = 5; default "
                                                                "0.2,0.4,0.6,0.8)."),
    temperatures: Optional[str] = typer.Option(None, "--temperatures", help="Temperatures (rows at alpha = 0.8; "
                                                                            "default 1,5,10)."),
    losses: Optional[str] = typer.Option(None, "--losses", help="pc<margin>, arcface, softmax (default "
                                                                "pc0.8,pc0.995,arcface,softmax)."),
    preset: Preset = None,
    epochs: Epochs = None,
    select: Select = None,
    student_loss_at: StudentLossAt = None,
    input_size: InputSize = None,
    lr: LearningRate = None,
    augment: Augment = None,
    balance: Balance = None,
    bn_refresh: BnRefresh = None,
    ema: Ema = None,
    out: Path = typer.Option(Path("runs/sweep"), "--out", "-o", help="Cells, checkpoints, tables.md and recipe.toml "
                                                                     "go here."),
    accelerator: Accelerator = "auto",
    precision: Precision = "fp32",
    workers: Workers = None,
):
    """Distil one student per (alpha, T, loss) cell on clean images and snapshots; resumable; Tables 2-4 layout."""
    from rich.progress import Progress

    from cmx_bench.train.engine import start_engine
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.fileio import write_text_atomic
    from cmx_bench.report.sweep_tables import sweep_tables_markdown
    from cmx_bench.train.recipe import SWEEP_KEYS
    from cmx_bench.train.sweep import paper_accuracy, run_sweep, sweep_request

    given = {field: value for field, value in locals().items() if field in SWEEP_KEYS}
    request = sweep_request(recipe, given, out)
    with Progress(console=console) as progress:
        task = progress.add_task(f"sweep {request.model}", total=len(request.cells) * len(request.data))

        def on_cell(record, skipped):
            progress.update(task, advance=1, description=f"{request.model} a={record['alpha']:g} "
                            f"t={record['temperature']:g} {record['loss']} {record['data']}: "
                            f"{record['test_accuracy']:.3f}" + (" (done before)" if skipped else ""))

        run = TrainRunOptions(engine=start_engine(accelerator, precision), workers=loader_workers(workers))
        records = run_sweep(request, run=run, on_cell=on_cell)
    tables = write_text_atomic(out / "tables.md", sweep_tables_markdown(request.model, records,
                                                                       paper_accuracy(request.model), request.losses))
    console.print(f"{len(records)} cells; Tables 2-4 layout in {tables}")


def cv(
    manifest: Optional[Path] = typer.Argument(None, help="Manifest with patient ids and a split (as 'data prepare' "
                                                         "writes it); its train and val images are cross-validated, "
                                                         "its test split left out. Or 'data' in --recipe."),
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="Number of patient-level folds."),
    out: Path = typer.Option(Path("runs/cv"), "--out", "-o", help="cv folder: fold-K/ per fold, folds.json, the pooled "
                                                                  "predictions.csv, summary.md / .html. Run again "
                                                                  "to finish a stopped cross-validation."),
    player: str = typer.Option("both", "--player", help="both (the RF, then the student distilled from that fold's "
                                                        "RF) or rf (the RF alone)."),
    student: Optional[str] = typer.Option(None, "--student", help="The student network (default shufflenet_v2_x1_0)."),
    fold_seed: Optional[int] = typer.Option(None, "--fold-seed", help="Seed of the fold assignment (default: "
                                                                      "--seed's value)."),
    eval_snapshots: Optional[Path] = typer.Option(None, "--eval-snapshots", help="Snapshot twins to score held-out "
                                                                                 "patients on without training on "
                                                                                 "them (--snapshots does both)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Folds at once, each in its own process (one GPU each "
                                                            "where there are GPUs)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads per fold process (default "
                                                                         "CPUs / jobs); recorded in each fold."),
    only_fold: Optional[int] = typer.Option(None, "--only-fold", min=1, help="Run only this fold (e.g. one per "
                                                                             "machine); pooled once all are done."),
    recipe: RecipeFile = None,
    preset: Preset = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    optimizer: Optimizer = None,
    weight_decay: WeightDecay = None,
    schedule: Schedule = None,
    warmup_epochs: WarmupEpochs = None,
    bn_refresh: BnRefresh = None,
    augment: Augment = None,
    balance: Balance = None,
    ema: Ema = None,
    select: Select = None,
    student_loss_at: StudentLossAt = None,
    input_size: InputSize = None,
    loss: Loss = None,
    margin: Margin = None,
    seed: Seed = None,
    alpha: Alpha = None,
    temperature: Temperature = None,
    snapshots: Snapshots = None,
    init: Optional[str] = typer.Option(None, "--init", help="'imagenet' (both players) or an AP checkpoint (the RF)."),
    workers: Workers = None,
    accelerator: Accelerator = "auto",
    precision: Precision = "fp32",
    skip_bad: SkipBad = False,
    trust_pickle: TrustPickle = False,
):
    """Patient-level k-fold cross-validation of the RF and its distilled student: per fold, the epoch kept is chosen
    on validation patients drawn from the fold's training patients; pooled out-of-fold predictions and a summary."""
    import json
    import os

    from cmx_bench.report.cv_summary import write_cv_summary
    from cmx_bench.train.cv import CvExecution, cv_request, run_cv
    from cmx_bench.train.recipe import TRAIN_KEYS

    given = {field: value for field, value in locals().items() if field in TRAIN_KEYS}
    given.update(data=manifest, model=student)
    request = cv_request(recipe, given, out=out, folds=folds, fold_seed=fold_seed, player=player,
                         eval_snapshots=eval_snapshots, trust_pickle=trust_pickle)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    execution = CvExecution(jobs=jobs, threads=threads or max(1, cpus // jobs),
                            workers=workers if workers is not None else min(4, cpus // jobs),
                            accelerator=accelerator, precision=precision, only_fold=only_fold)

    def on_fold(done):
        kept = ", ".join(f"{p} kept epoch {v['kept_epoch']} (validation {v['val_score']:.3f})"
                         for p, v in done["players"].items())
        console.print(f"fold {done['fold']} done: {kept}", highlight=False, soft_wrap=True)

    result = run_cv(request, execution, on_fold=on_fold)
    if result["kept"]:
        console.print(f"kept, finished before: fold {', '.join(map(str, result['kept']))}")
    if result["skipped"]:
        console.print(f"[yellow]skipped {len(result['skipped'])} bad input(s)[/]: {result['skipped'][0]}")
    if not result["complete"]:
        console.print(f"folds left: {', '.join(map(str, result['folds_left']))}; run them (or cv without "
                      "--only-fold) to pool the predictions")
        return
    paths = write_cv_summary(out)
    summary = json.loads(paths["json"].read_text())
    for name, entry in summary["sets"].items():
        pooled = entry["pooled"]
        console.print(f"  {name}: pooled accuracy {pooled['accuracy']:.3f} (95% CI "
                      f"{_interval(pooled['ci95']['accuracy'])}), AUROC covid_vs_rest {_number(pooled['auroc']['covid_vs_rest'])} (95% CI "
                      f"{_interval(pooled['ci95']['auroc']['covid_vs_rest'])}) over {pooled['images']} images",
                      highlight=False, soft_wrap=True)
    console.print(f"pooled predictions {result['predictions']}; summary {paths['markdown']} (HTML: {paths['html']})")
