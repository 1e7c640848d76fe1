"""`cmx-bench train rf|ms` and `cmx-bench evaluate`: the three-player pipeline on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cmx_bench.cli.render import console

def _config(preset, **overrides):
    from cmx_bench.train.presets import preset as make

    return make(preset, **overrides)


def _train(model_name, data, out, config, teacher, init, skip_bad):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cmx_bench.train.players import train_ap, train_classifier

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} epochs"),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"train {model_name}", total=config.epochs, status="")

        def on_epoch(row, best):
            progress.update(task, advance=1, status=f"loss {row['train_loss']:.3f}  val {row['val_score']:.3f}"
                                                     f"  best {best['val_score']:.3f} (epoch {best['epoch']})")

        if model_name == "ap":
            summary = train_ap(data, out, config, init=init, on_epoch=on_epoch)
        else:
            summary = train_classifier(model_name, data, out, config, teacher=teacher, init=init, skip_bad=skip_bad,
                                       on_epoch=on_epoch)
    if summary["skipped"]:
        console.print(f"[yellow]skipped {len(summary['skipped'])} bad input(s)[/]: {summary['skipped'][0]}")
    if summary["interrupted"]:
        console.print("[yellow]interrupted: the last good checkpoint is kept[/]")
    console.print(f"best validation score {summary['best']['val_score']:.3f} at epoch {summary['best']['epoch']}; "
                  f"checkpoint {summary['checkpoint']}")


def train(
    player: str = typer.Argument(..., help="ap (pre-trained on ChestX-ray14), rf (the DenseNet-121 teacher) or ms "
                                           "(a student, distilled with --teacher)."),
    data: Path = typer.Option(..., "--data", help="Manifest (with split) or class folders; for ap the NIH folder."),
    model: str = typer.Option("shufflenet_v2_x1_0", "--model", "-m", help="ms: the student network."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="ms: RF checkpoint; omit for the no-teacher baseline."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Eq. 2 distillation strength."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Eq. 2 temperature."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for best.pth and history.json (runs/PLAYER)."),
    init: Optional[str] = typer.Option(None, "--init", help="rf: an AP checkpoint; ms: a student one; or 'imagenet' "
                                                           "(local torch cache only, never downloaded)."),
    preset: str = typer.Option("cpu", "--preset", help="paper (224 px, 50 epochs), cpu (128 px, 12 epochs) or tiny."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr: Optional[float] = typer.Option(None, "--lr"),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=32),
    loss: Optional[str] = typer.Option(None, "--loss", help="pc (Eq. 1), arcface or softmax."),
    margin: Optional[float] = typer.Option(None, "--margin", help="PC loss margin xi."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out bad images and rows (counted) instead of stopping."),
):
    """Train a player: AP (multi-label), RF (from --init AP) or MS (Eq. 2 from --teacher); keeps the best validation checkpoint."""
    from cmx_bench.errors import UnknownNameError

    if player not in ("ap", "rf", "ms"):
        raise UnknownNameError(f"unknown player '{player}'; choose ap, rf or ms")
    config = _config(preset, epochs=epochs, batch_size=batch_size, lr=lr, input_size=input_size, loss=loss,
                     margin=margin, seed=seed, alpha=alpha, temperature=temperature)
    model_name = {"ap": "ap", "rf": "densenet121"}.get(player, model)
    _train(model_name, data, out or Path("runs") / player, config, teacher if player == "ms" else None, init,
           skip_bad)


def evaluate(
    model: str = typer.Option(..., "--model", "-m"),
    weights: Path = typer.Option(..., "--weights", "-w"),
    data: Path = typer.Option(..., "--data", help="Manifest (with split) or class folders."),
    split: Optional[str] = typer.Option("test", "--split", help="Split to evaluate; 'all' for every image."),
    snapshots: Optional[Path] = typer.Option(None, "--snapshots", help="Snapshot twins (manifest from 'data snapshots')."),
    out: Path = typer.Option(Path("runs/eval"), "--out", "-o"),
    gradcam: int = typer.Option(4, "--gradcam", min=0, help="COVID images to explain with Grad-CAM (0: none)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out bad images and rows (counted) instead of stopping."),
):
    """Accuracy, per-class recall, the three AUROCs, per-source accuracy, ROC, t-SNE and Grad-CAM figures."""
    import pandas as pd

    from cmx_bench.cli.render import frame_table
    from cmx_bench.evaluate.evaluation import evaluate_checkpoint

    with console.status("evaluating"):
        results = evaluate_checkpoint(model, weights, data, out, split=None if split == "all" else split,
                                      snapshots=snapshots, gradcam_images=gradcam, skip_bad=skip_bad)
    rows = []
    for name, metrics in results["sets"].items():
        rows.append({"Set": name, "Images": metrics["images"], "Accuracy": metrics["accuracy"],
                     **{f"AUROC {k}": v for k, v in metrics["auroc"].items()}})
    console.print(frame_table(pd.DataFrame(rows), f"{model} on {split}"))
    for name, metrics in results["sets"].items():
        for source, value in metrics.get("per_source_accuracy", {}).items():
            console.print(f"  {name} {source}: accuracy {value['accuracy']:.3f} over {value['images']} images")
    console.print(f"figures and evaluation.json in {out}")


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
    input_size: Optional[int] = typer.Option(None, "--input-size", min=32),
    lr: Optional[float] = typer.Option(None, "--lr"),
    out: Path = typer.Option(Path("runs/sweep"), "--out", "-o", help="Cells, checkpoints and tables.md go here."),
):
    """Distil one student per (alpha, T, loss) cell on clean images and snapshots; resumable; Tables 2-4 layout."""
    from rich.progress import Progress

    from cmx_bench.fileio import write_text_atomic
    from cmx_bench.report.sweep_tables import sweep_tables_markdown
    from cmx_bench.train.sweep import paper_accuracy, paper_grid, run_sweep

    loss_list = [v.strip() for v in losses.split(",") if v.strip()]
    cells = paper_grid(_floats(alphas), _floats(temperatures), loss_list)
    sets = {"clean": data, **({"snapshot": snapshots} if snapshots else {})}
    teachers = {"clean": teacher, "snapshot": snapshot_teacher or teacher}
    config = _config(preset, epochs=epochs, input_size=input_size, lr=lr)
    with Progress(console=console) as progress:
        task = progress.add_task(f"sweep {model}", total=len(cells) * len(sets))

        def on_cell(record, skipped):
            progress.update(task, advance=1, description=f"{model} a={record['alpha']:g} t={record['temperature']:g} "
                            f"{record['loss']} {record['data']}: {record['test_accuracy']:.3f}"
                            + (" (done before)" if skipped else ""))

        records = run_sweep(model, sets, teachers, out, config, cells, on_cell=on_cell)
    tables = write_text_atomic(out / "tables.md", sweep_tables_markdown(model, records, paper_accuracy(model),
                                                                       loss_list))
    console.print(f"{len(records)} cells; Tables 2-4 layout in {tables}")
