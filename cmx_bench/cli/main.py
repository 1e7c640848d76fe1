"""The cmx-bench command line."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer

from cmx_bench.cli.render import RichProgress, console, error_console, frame_table

app = typer.Typer(help="Train, export and benchmark COVID-MobileXpert networks on phones and on the host.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command()
def run(
    device: str = typer.Option("local", "--device", "-d", help="Device profile name or serial; 'local' is the host."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Network(s); default: the three students."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte, pte-int8 or ptl (repeatable); default pte."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="Checkpoint: PATH or MODEL=PATH."),
    artifact: Optional[list[Path]] = typer.Option(None, "--artifact", help="Run exported artifact(s) instead."),
    data: Optional[Path] = typer.Option(None, "--data", help="Class folders or manifest CSV: adds accuracy and AUROC."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow whole-model pickles (runs their code)."),
    iters: int = typer.Option(50, "--iters", min=1, help="Minimum number of timed inferences."),
    warmup: int = typer.Option(5, "--warmup", min=0, help="Untimed inferences before timing."),
    min_duration: float = typer.Option(2.0, "--min-duration", min=0.0, help="Minimum seconds of timed inferences."),
    threads: int = typer.Option(0, "--threads", min=0, help="Runtime threads; 0 keeps the runtime default."),
    sample_period: float = typer.Option(0.1, "--sample-period", min=0.01, max=0.1, help="Sampler period (s)."),
    no_sampling: bool = typer.Option(False, "--no-sampling", help="Measure latency only (no CPU/memory/energy)."),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds before a runner is stopped."),
    out: Path = typer.Option(Path("reports"), "--out", "-o", help="Folder that receives the run folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of random initialisation."),
):
    """Benchmark networks on a device and write a Table 5-style report."""
    from cmx_bench.bench.session import BenchOptions, run_benchmark
    from cmx_bench.cli.options import parse_weights
    from cmx_bench.devices.base import RunSettings
    from cmx_bench.nets.registry import STUDENTS
    from cmx_bench.report.table5 import table5_frame, terminal_frame

    models = list(model or STUDENTS)
    options = BenchOptions(
        device=device, models=models, formats=list(fmt or ["pte"]), weights=parse_weights(weights or [], models),
        artifacts=list(artifact or []), data=data, trust_pickle=trust_pickle, out_dir=out, seed=seed,
        settings=RunSettings(warmup=warmup, iterations=iters, min_duration_s=min_duration, threads=threads,
                             sample_period_s=sample_period, sampling=not no_sampling, timeout_s=timeout))
    with RichProgress() as progress:
        outcome = run_benchmark(options, progress)
    console.print(frame_table(terminal_frame(table5_frame(outcome.records)), f"Table 5 view: {device}"))
    if any(r["config"]["weights"]["source"] == "random_init" for r in outcome.records):
        console.print("[yellow]Weights: randomly initialised (no --weights): cost figures are real, accuracy is not.")
    console.print("Latency: median of all timed inferences; ! marks an unstable figure (see the report notes).")
    console.print(f"Report: {outcome.report_paths['markdown']}  (HTML: {outcome.report_paths['html']})")


@app.command()
def export(
    model: str = typer.Option(..., "--model", "-m", help="Network name (see 'cmx-bench models')."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte, pte-int8, ptl (repeatable); default all."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Checkpoint; random init when omitted."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow whole-model pickles (runs their code)."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Images for int8 calibration."),
    out: Path = typer.Option(Path("models/.cache/exported"), "--out", "-o", help="Folder for artifacts."),
    int8_max_delta: float = typer.Option(0.15, "--int8-max-delta", help="int8 parity: largest |delta prob| allowed."),
    int8_min_agreement: float = typer.Option(0.9, "--int8-min-agreement", help="int8 parity: argmax agreement."),
):
    """Export a network to mobile artifacts, each with a manifest and a parity check."""
    from cmx_bench.export.formats import FORMATS
    from cmx_bench.export.service import ParityLimits, export_to_folder

    limits = ParityLimits(int8_max_delta=int8_max_delta, int8_min_agreement=int8_min_agreement)
    with console.status(f"exporting {model}"):
        exported = export_to_folder(model, list(fmt or FORMATS), out, weights_path=weights, trust_pickle=trust_pickle,
                                    calibration_dir=calibration, limits=limits)
    for path, manifest in exported:
        parity = manifest["parity"]
        console.print(f"[green]{path}[/] {manifest['size_bytes'] / 2**20:.1f} MB sha256 {manifest['sha256'][:12]} "
                      f"parity: max |delta prob| {parity['max_abs_delta_prob']:.2e}, "
                      f"argmax agreement {parity['argmax_agreement']:.2f} over {parity['inputs']} inputs")


@app.command()
def models():
    """List the networks in the registry (model cards in models/)."""
    import pandas as pd

    from cmx_bench.nets.registry import all_cards

    frame = pd.DataFrame([{"Model": c.name, "Role": c.role, "Input": c.input_size, "Classes": ", ".join(c.classes),
                           "Params (paper)": c.paper_params, "MACs (paper)": c.paper_macs}
                          for c in all_cards().values()])
    console.print(frame_table(frame, "Model registry"))


@app.command()
def devices():
    """List the device profiles and the devices that can be used now."""
    import pandas as pd

    from cmx_bench.devices.profiles import all_profiles

    frame = pd.DataFrame([{"Device": p["name"], "Name": p["display_name"], "Kind": p["kind"], "Tier": p["tier"],
                           "SoC": p["soc"]} for p in all_profiles().values()])
    console.print(frame_table(frame, "Device profiles"))


def main() -> None:
    from cmx_bench.errors import CmxError

    warnings.filterwarnings("ignore")
    logging.getLogger("torch").setLevel(logging.ERROR)  # torch's pytree notice is not the user's concern
    try:
        app()
    except CmxError as exc:
        error_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        error_console.print("[red]interrupted[/]: results measured so far are on disk")
        sys.exit(130)


if __name__ == "__main__":
    main()
