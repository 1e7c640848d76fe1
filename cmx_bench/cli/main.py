"""The cmx-bench command line."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from cmx_bench.cli.options import SkipBad, TrustPickle
from cmx_bench.cli.render import (RichProgress, console, error_console, errors_exit_with, frame_table,
                                  honour_columns, print_error)

app = typer.Typer(help="Train, export and benchmark COVID-MobileXpert networks on phones and on the host.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command()
def run(
    device: Optional[list[str]] = typer.Option(None, "--device", "-d",
                                               help="Device profile name or adb serial; 'local' is the host. Repeat "
                                                    "for several devices (one worker each)."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Network(s); default: the three students."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte, pte-int8 or ptl (repeatable); default pte."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", "-w", help="Checkpoint: PATH or MODEL=PATH."),
    artifact: Optional[list[Path]] = typer.Option(None, "--artifact", help="Run exported artifact(s) instead."),
    data: Optional[Path] = typer.Option(None, "--data", help="Class folders or manifest CSV: adds accuracy and AUROC."),
    skip_bad: SkipBad = False,
    split: Optional[str] = typer.Option(None, "--split", help="Only this split of a manifest (e.g. test)."),
    trust_pickle: TrustPickle = False,
    iters: int = typer.Option(50, "--iters", min=1, help="Minimum number of timed inferences."),
    warmup: int = typer.Option(5, "--warmup", min=0, help="Untimed inferences before timing."),
    min_duration: float = typer.Option(2.0, "--min-duration", min=0.0, help="Minimum seconds of timed inferences."),
    threads: Optional[list[int]] = typer.Option(None, "--threads", min=0,
                                                help="Runtime threads (repeatable: one run each); 0 keeps the "
                                                     "runtime default."),
    sustained: Optional[float] = typer.Option(None, "--sustained", min=1.0,
                                              help="Seconds of inference without pause after warm-up: latency, "
                                                   "temperature and clocks over time, and when throttling began."),
    sample_period: float = typer.Option(0.1, "--sample-period", min=0.01, max=0.1, help="Sampler period (s)."),
    no_sampling: bool = typer.Option(False, "--no-sampling", help="Measure latency only (no CPU/memory/energy)."),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds before a runner is stopped."),
    out: Path = typer.Option(Path("reports"), "--out", "-o", help="Folder that receives the run folder."),
    label: Optional[str] = typer.Option(None, "--label", help="Name of this run in combined reports and comparisons."),
    seed: int = typer.Option(0, "--seed", help="Seed of random initialisation."),
    force: bool = typer.Option(False, "--force", help="Android: run even if battery, storage or cooldown checks fail."),
    apk: Optional[Path] = typer.Option(None, "--apk", help="Android: runner APK to install if the phone lacks it."),
    cooldown_max: Optional[float] = typer.Option(None, "--cooldown-max", min=0.0,
                                                 help="Android: longest wait for the phone to cool (s); default: profile."),
    profile: bool = typer.Option(False, "--profile", help="Add an operator profile (ETDump) from separate inferences."),
    profile_iterations: int = typer.Option(20, "--profile-iterations", min=1, help="Profiled inferences per run."),
    allow_version_skew: bool = typer.Option(False, "--allow-version-skew",
                                            help="Run artifacts the device's runtime is not known to load."),
    min_battery: int = typer.Option(20, "--min-battery", min=0, max=100, help="Android: lowest battery level (%)."),
    device_dir: str = typer.Option("/data/local/tmp/cmx-bench", "--device-dir", help="Android: working folder."),
    lowering: str = typer.Option("cmx", "--lowering",
                                 help="cmx (graph passes, then XNNPACK) or stock (ExecuTorch's lowering)."),
    untuned: bool = typer.Option(False, "--untuned", help="Lower with the target's default choices even where "
                                                          "`cmx-bench tune` measured this device."),
    rounds: int = typer.Option(1, "--rounds", min=1,
                               help="Time every network, format and thread count once per round, in turn, and pool "
                                    "the rounds: drift in the device (heat, a busy host) then falls on all alike."),
):
    """Benchmark networks on a device and write a Table 5-style report."""
    from cmx_bench.bench.session import BenchOptions, run_benchmark
    from cmx_bench.cli.options import parse_weights
    from cmx_bench.devices.android.settings import AndroidSettings
    from cmx_bench.devices.base import RunSettings
    from cmx_bench.nets.registry import STUDENTS
    from cmx_bench.runner.protocol import JobSettings

    models = list(model or STUDENTS)
    devices = list(dict.fromkeys(device or ["local"]))
    options = BenchOptions(
        device=devices[0], models=models, formats=list(fmt or ["pte"]), weights=parse_weights(weights or [], models),
        artifacts=list(artifact or []), data=data, split=split, trust_pickle=trust_pickle, out_dir=out, seed=seed,
        label=label, skip_bad=skip_bad, threads=list(threads or [0]), lowering=lowering, untuned=untuned,
        rounds=rounds, job=JobSettings(warmup=warmup, iterations=iters, min_duration_s=min_duration,
                        profile_iterations=profile_iterations if profile else 0),
        settings=RunSettings(sample_period_s=sample_period, sampling=not no_sampling, timeout_s=timeout,
                             allow_version_skew=allow_version_skew, sustained_s=sustained),
        android=AndroidSettings(force=force, apk=apk, cooldown_max_s=cooldown_max, min_battery_pct=min_battery,
                                device_dir=device_dir))
    if len(devices) > 1:
        return _run_on_devices(options, devices)
    with RichProgress() as progress:
        outcome = run_benchmark(options, progress)
    _print_outcome(outcome, devices[0])


def _run_on_devices(options, devices: list[str]) -> None:
    from cmx_bench.bench.fleet import FleetFailed, run_on_devices

    with RichProgress() as progress:
        try:
            fleet = run_on_devices(options, devices, progress.for_device)
        except FleetFailed as exc:
            fleet, failed = exc.fleet, exc
        else:
            failed = None
    for name, outcome in fleet.outcomes.items():
        _print_outcome(outcome, name)
    if failed:
        raise failed


def _print_outcome(outcome, device: str) -> None:
    _print_table5(outcome.records, f"Table 5 view: {device}")
    skipped = (outcome.records[0]["config"].get("data_skipped") or {}) if outcome.records else {}
    if skipped.get("count"):
        console.print(f"[yellow]skipped {skipped['count']} bad input(s)[/]: {skipped['first'][0]}")
    console.print(f"Report: {outcome.report_paths['markdown']}  (HTML: {outcome.report_paths['html']})")


def _print_table5(records: list[dict], title: str) -> None:
    """The terminal Table 5 view, then what its figures mean: weights, energy method, column legend."""
    from cmx_bench.report.provenance import random_weights_note
    from cmx_bench.report.round_pairs import round_pair_notes
    from cmx_bench.report.run_conditions import run_condition_notes
    from cmx_bench.report.table5 import TERMINAL_DROP_ORDER, table5_frame, terminal_frame
    from cmx_bench.results.metrics import energy_method, energy_per_inference_mj

    console.print(frame_table(terminal_frame(table5_frame(records)), title, TERMINAL_DROP_ORDER))
    note = random_weights_note(records)
    if note:
        console.print(f"[yellow]Weights: {note}", soft_wrap=True)
    for line in run_condition_notes(records):
        console.print(f"[yellow]{escape(line)}", soft_wrap=True)
    for line in round_pair_notes(records):
        console.print(escape(line), soft_wrap=True)
    methods = sorted({energy_method(r) or "unknown" for r in records if energy_per_inference_mj(r)})
    if methods:
        console.print(f"mJ/inf: energy per inference, method {', '.join(methods)} (see the report notes).")
    console.print("ms: median latency (! unstable: robust CV > 0.10 or median CI > +/-5%); rCV: robust CV; "
                  "CPU%: share of the whole device; Model MB: the runner's memory rise over its pre-load reading; "
                  "App MB: the app's total PSS (phones); Thr: runtime threads; Warm ms: the second load in the same "
                  "process; Big%: CPU time off the slowest cluster; Clk%: mean clock over the timed window, of the "
                  "maximum; Slow x: a sustained run's end-over-start latency.")


@app.command()
def profile(
    device: str = typer.Option("local", "--device", "-d", help="Device profile name or adb serial; 'local' is the host."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Network(s); default: the three students."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte or pte-int8 (repeatable); default both."),
    iterations: int = typer.Option(20, "--profile-iterations", min=1, help="Profiled inferences per run."),
    top: int = typer.Option(10, "--top", min=1, help="Operators shown per network."),
    out: Path = typer.Option(Path("reports"), "--out", "-o", help="Folder that receives the run folder."),
    lowering: str = typer.Option("cmx", "--lowering",
                                 help="cmx (graph passes, then XNNPACK) or stock (ExecuTorch's lowering)."),
):
    """Where each network spends its time: `run --profile`, then the costliest operators per network."""
    from cmx_bench.bench.session import BenchOptions, run_benchmark
    from cmx_bench.nets.registry import STUDENTS
    from cmx_bench.report.time_breakdown import profile_notes, top_operator_tables
    from cmx_bench.runner.protocol import JobSettings

    options = BenchOptions(device=device, models=list(model or STUDENTS), formats=list(fmt or ["pte", "pte-int8"]),
                           out_dir=out, job=JobSettings(profile_iterations=iterations), lowering=lowering)
    with RichProgress() as progress:
        outcome = run_benchmark(options, progress)
    for label, table in top_operator_tables(outcome.records, top):
        shown = table[["Operator", "Category", "ms / inference", "Share", "Module"]]
        console.print(frame_table(shown, f"Top operators: {label}", ("Module", "Share", "Category")))
    for note in profile_notes(outcome.records):
        console.print(note, soft_wrap=True, highlight=False)
    console.print(f"Report: {outcome.report_paths['markdown']}  (HTML: {outcome.report_paths['html']})")


@app.command()
def export(
    model: str = typer.Option(..., "--model", "-m", help="Network name (see 'cmx-bench models')."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte, pte-int8, ptl (repeatable); default all."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Checkpoint; random init when omitted."),
    trust_pickle: TrustPickle = False,
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Images for int8 calibration."),
    skip_bad: SkipBad = False,
    out: Path = typer.Option(Path("models/.cache/exported"), "--out", "-o", help="Folder for artifacts."),
    int8_max_delta: float = typer.Option(0.15, "--int8-max-delta", help="int8 parity: largest |delta prob| allowed."),
    int8_min_agreement: float = typer.Option(0.9, "--int8-min-agreement", help="int8 parity: argmax agreement."),
    lowering: str = typer.Option("cmx", "--lowering",
                                 help="cmx (graph passes, then XNNPACK) or stock (ExecuTorch's lowering)."),
    target: str = typer.Option("host", "--target",
                               help="CPU the .pte runs on, which picks the cmx passes: host (this machine), arm "
                                    "(phones), x86-64-avx2 or x86-64-avx512. `run` takes it from the device."),
):
    """Export a network to mobile artifacts, each with a manifest and a parity check."""
    from cmx_bench.export.formats import FORMATS
    from cmx_bench.export.service import ParityLimits, export_to_folder
    from cmx_bench.report.time_breakdown import lowering_label

    limits = ParityLimits(int8_max_delta=int8_max_delta, int8_min_agreement=int8_min_agreement)
    with console.status(f"exporting {model}"):
        exported = export_to_folder(model, list(fmt or FORMATS), out, weights_path=weights, trust_pickle=trust_pickle,
                                    calibration_dir=calibration, limits=limits, skip_bad=skip_bad,
                                    lowering=lowering, target=target)
    for path, manifest in exported:
        parity = manifest["parity"]
        lowered = f" lowering {lowering_label(manifest['lowering'])}" if manifest.get("lowering") else ""
        console.print(f"[green]{path}[/] {manifest['size_bytes'] / 2**20:.1f} MB sha256 {manifest['sha256'][:12]}"
                      f"{lowered} parity: max |delta prob| {parity['max_abs_delta_prob']:.2e}, "
                      f"argmax agreement {parity['argmax_agreement']:.2f} over {parity['inputs']} inputs")


@app.command()
def tune(
    device: str = typer.Option("local", "--device", "-d", help="Device profile name or adb serial; 'local' is the host."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Network(s) timed; default: the three "
                                                                           "students."),
    fmt: Optional[list[str]] = typer.Option(None, "--format", "-f", help="pte or pte-int8 (repeatable); default both."),
    threads: int = typer.Option(0, "--threads", min=0, help="Runtime threads, as `run` will use them; 0 keeps the "
                                                            "runtime default."),
    rounds: int = typer.Option(5, "--rounds", min=1, help="Interleaved rounds of every knob on and off."),
    seed: int = typer.Option(0, "--seed", help="Seed of random initialisation."),
):
    """Time each CPU-dependent rewrite of the cmx lowering on and off on a device, and keep the faster for `run`."""
    import pandas as pd

    from cmx_bench.bench.tune import TuneOptions, tune_device
    from cmx_bench.nets.registry import STUDENTS

    options = TuneOptions(device=device, models=list(model or STUDENTS), formats=list(fmt or ["pte", "pte-int8"]),
                          threads=threads, rounds=rounds, seed=seed)
    with RichProgress() as progress:
        outcome = tune_device(options, progress)
    frame = pd.DataFrame([{
        "Precision": t.precision, "Knob": t.knob, "Models": ", ".join(t.models) or "-",
        "On ms": t.on_ms, "Off ms": t.off_ms, "On / off": t.ratio,
        "Default": "on" if t.default_on else "off", "Chosen": "on" if t.chosen_on else "off", "Why": t.reason,
    } for t in outcome.trials])
    threads_text = f"{outcome.threads} threads" if outcome.threads else "default threads"
    console.print(frame_table(frame, f"Lowering knobs on {outcome.device} ({outcome.target}, {threads_text})",
                              ("Models", "Default", "Why")))
    console.print(f"Kept in {outcome.path}; `cmx-bench run --device {outcome.device}` lowers with these choices "
                  f"at {threads_text} (--untuned: the target's defaults).", soft_wrap=True)


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

    from cmx_bench.devices.android.discovery import list_phones
    from cmx_bench.devices.profiles import all_profiles
    from cmx_bench.errors import DeviceError

    frame = pd.DataFrame([{"Device": p["name"], "Name": p["display_name"], "Kind": p["kind"], "Tier": p["tier"],
                           "SoC": p["soc"]} for p in all_profiles().values()])
    console.print(frame_table(frame, "Device profiles"))
    try:
        phones = list_phones()
    except DeviceError as exc:
        console.print(f"[yellow]No Android phones listed: {exc}")
        return
    if not phones:
        console.print("No Android phones attached (see 'adb devices'); 'local' is always available.")
        return
    console.print(frame_table(pd.DataFrame([{
        "Serial": p["serial"], "Model": p["model"], "ABI": p["abi"], "Android": p["android"],
        "Battery": f"{p['battery_level_pct']}%{' charging' if p['charging'] else ''}",
        "Thermal": f"{p['thermal_status']}, skin {p['skin_temperature_c']} C", "Profile": p["profile"]}
        for p in phones]),
        "Attached phones"))


@app.command("virtual-device")
def virtual_device(
    profile: str = typer.Option("pixel2", "--profile", help="Android device profile the phone plays."),
    port: int = typer.Option(5555, "--port", min=0, max=65535, help="TCP port on 127.0.0.1 (0: any free port)."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", help="Folder for the phone's files and logs."),
    connect: bool = typer.Option(False, "--connect", help="Run 'adb connect 127.0.0.1:PORT' once listening."),
    preinstall_runner: bool = typer.Option(False, "--preinstall-runner", help="Start with the runner app installed."),
    executorch_version: Optional[str] = typer.Option(None, "--executorch-version",
                                                     help="ExecuTorch version the runner reports (default: the pin)."),
    stock_runtime: bool = typer.Option(False, "--stock-runtime",
                                       help="Play a runtime built without operator profiling (as published)."),
    drop_after: Optional[float] = typer.Option(None, "--drop-after", help="Fault: cut the connection this many "
                                                                          "seconds after the runner app starts."),
    drop_on_run: int = typer.Option(1, "--drop-on-run", min=1, help="Fault: ... counted from the N-th runner start."),
    offline_for: Optional[float] = typer.Option(None, "--offline-for", help="Fault: come back after this long."),
    runner_crash: bool = typer.Option(False, "--runner-crash", help="Fault: the runner dies after loading the model."),
    storage_free_mb: Optional[float] = typer.Option(None, "--storage-free-mb", help="Fault: free space on /data."),
    transfer_kbps: Optional[float] = typer.Option(None, "--transfer-kbps", help="Fault: slow pushes to this rate."),
    battery_level: int = typer.Option(85, "--battery-level", min=0, max=100, help="Battery level (%)."),
    thermal_status: int = typer.Option(2, "--thermal-status", min=0, max=6, help="Thermal status while hot."),
    hot_for: float = typer.Option(0.0, "--hot-for", min=0.0, help="Seconds the phone stays hot after start."),
    hot_after_run: float = typer.Option(0.0, "--hot-after-run", min=0.0, help="Seconds it stays hot after a run."),
    throttle_after: Optional[float] = typer.Option(None, "--throttle-after", min=0.0,
                                                   help="Fault: a governor throttles this many seconds into the timed "
                                                        "phase (runner slowed, clocks capped, thermal status raised)."),
    throttle_factor: float = typer.Option(2.0, "--throttle-factor", min=1.01, help="Fault: ... slowed this much."),
):
    """A virtual Android phone on 127.0.0.1 that speaks the adb protocol (for CI without phones)."""
    import signal
    import threading

    from cmx_bench.devices.virtual.launch import adb_connect, start_virtual_device
    from cmx_bench.devices.virtual.phone import Faults

    faults = Faults(drop_after_s=drop_after, drop_on_run=drop_on_run, offline_for_s=offline_for, runner_crash=runner_crash,
                    storage_free_mb=storage_free_mb, transfer_kbps=transfer_kbps, battery_level=battery_level,
                    thermal_status=thermal_status, hot_for_s=hot_for, hot_after_run_s=hot_after_run,
                    throttle_after_s=throttle_after, throttle_factor=throttle_factor)
    runtimes = {"executorch": executorch_version} if executorch_version else None
    device = start_virtual_device(profile, port, state_dir, faults, preinstall_runner, runtimes,
                                  profiling=not stock_runtime)
    console.print(f"virtual {profile} listening on 127.0.0.1:{device.port} (files in {device.phone.state_dir}; "
                  f"runtimes {device.phone.runtimes})")
    if connect:
        console.print(adb_connect(device.port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        device.stop()


@app.command()
def report(
    records: list[Path] = typer.Argument(..., help="Run folders or record files."),
    out: Path = typer.Option(Path("reports/combined"), "--out", "-o", help="Folder for the report files."),
    title: str = typer.Option("cmx-bench report", "--title", help="Report title."),
):
    """One report over many runs: Table 5 view (networks by devices), plots, Markdown / CSV / HTML."""
    from cmx_bench.report.writers import write_report
    from cmx_bench.results.store import load_records

    loaded = load_records(records)
    paths = write_report(loaded, out, title=title)
    _print_table5(loaded, f"{len(loaded)} runs")
    console.print(f"Report: {paths['markdown']}  (HTML: {paths['html']})")


@app.command()
def compare(
    base: Path = typer.Argument(..., help="Base records: run folder, record file or baseline folder."),
    current: list[Path] = typer.Argument(..., help="Current records."),
    threshold: Optional[list[str]] = typer.Option(None, "--threshold", "-t", help="METRIC=VALUE, e.g. latency_median_ms=5%."),
    thresholds_file: Optional[Path] = typer.Option(None, "--thresholds", help="TOML file with a [thresholds] table."),
    allow_mismatch: bool = typer.Option(False, "--allow-mismatch", help="Compare across devices, formats or schemas."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary (CI step summary)."),
    gab_json: Optional[Path] = typer.Option(None, "--gab-json", help="Write github-action-benchmark JSON."),
):
    """Compare runs against a base (or two `evaluate` folders of the same images, by paired tests); exit 0 when
    nothing regressed, 1 when something did, 2 on bad input."""
    from cmx_bench.results.evaluation_compare import is_evaluation_folder

    if is_evaluation_folder(base):
        _compare_evaluations(base, current, threshold or [], thresholds_file, markdown, gab_json)
        return
    from cmx_bench.fileio import write_json_atomic, write_text_atomic
    from cmx_bench.report.comparison import (TERMINAL_DROP_ORDER, comparison_markdown, github_action_benchmark,
                                             operator_frame, terminal_comparison_frame)
    from cmx_bench.results.compare import compare_records
    from cmx_bench.results.store import load_records
    from cmx_bench.results.thresholds import load_thresholds

    with errors_exit_with(2):
        metrics = load_thresholds(thresholds_file, threshold or [])
        result = compare_records(load_records([base]), load_records(current), metrics, allow_mismatch=allow_mismatch)
    rows = result.as_dicts()
    differences = [d.describe() for d in result.configuration_differences]
    with errors_exit_with(2):  # an unwritable summary is bad input too: exit 1 would read as a regression
        if markdown:
            write_text_atomic(markdown, comparison_markdown(rows, result.only_in_base, result.only_in_current,
                                                            differences, result.operators))
        if gab_json:
            write_json_atomic(gab_json, github_action_benchmark(rows))
    if rows:
        console.print(frame_table(terminal_comparison_frame(rows), "Comparison", TERMINAL_DROP_ORDER))
    for title, keys in (("only in base", result.only_in_base), ("only in current", result.only_in_current)):
        if keys:
            console.print(f"[yellow]{title}:[/] " + ", ".join(" / ".join(k) for k in keys))
    for key, changes in result.operators.items():
        console.print(frame_table(operator_frame(changes), f"Operators whose time changed most: {' / '.join(key)}",
                                  ("Partition", "Change")))
    for text in differences:
        console.print(f"[yellow]configuration differs:[/] {text}", highlight=False, soft_wrap=True)
    if not rows:
        print_error("no run matches between base and current (device, model, format)")
        raise typer.Exit(2)
    if result.regressions:
        console.print(f"[red]{len(result.regressions)} regression(s)[/]")
        raise typer.Exit(1)
    console.print("[green]no regression[/]")


def _compare_evaluations(base: Path, current: list[Path], threshold: list[str], thresholds_file: Optional[Path],
                         markdown: Optional[Path], gab_json: Optional[Path]) -> None:
    from cmx_bench.errors import CmxError
    from cmx_bench.fileio import write_text_atomic
    from cmx_bench.report.comparison import evaluation_comparison_frame, evaluation_comparison_markdown
    from cmx_bench.results.evaluation_compare import compare_evaluations
    from cmx_bench.results.thresholds import load_thresholds

    with errors_exit_with(2):
        if len(current) != 1 or gab_json is not None:
            raise CmxError(f"{base} is an evaluation folder: compare it with one other evaluation folder "
                           "(--gab-json applies to run records)")
        rows, unpaired = compare_evaluations(base, current[0], load_thresholds(thresholds_file, threshold))
    if markdown:
        with errors_exit_with(2):
            write_text_atomic(markdown, evaluation_comparison_markdown(rows, unpaired, str(base), str(current[0])))
    console.print(frame_table(evaluation_comparison_frame(rows), "Paired comparison of two evaluations",
                              ("Threshold", "Images", "Test", "Paired images")))
    for reason in unpaired:
        console.print(f"[yellow]not compared:[/] {escape(reason)}", highlight=False, soft_wrap=True)
    regressions = sum(row["regression"] for row in rows)
    if regressions:
        console.print(f"[red]{regressions} regression(s)[/]")
        raise typer.Exit(1)
    console.print("[green]no regression[/]")


from cmx_bench.cli import data_commands, train_commands  # noqa: E402

app.add_typer(data_commands.app, name="data")
app.command(name="train")(train_commands.train)
app.command(name="evaluate")(train_commands.evaluate)
app.command(name="sweep")(train_commands.sweep)
app.command(name="cv")(train_commands.cv)

baseline_app = typer.Typer(help="Named baselines that CI compares against.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save")
def baseline_save(
    name: str = typer.Argument(..., help="Baseline name."),
    records: list[Path] = typer.Argument(..., help="Run folders or record files."),
    root: Path = typer.Option(Path("baselines"), "--root", help="Folder that holds baselines."),
):
    """Freeze records (and the environment that made them) as a named baseline."""
    from cmx_bench.results.baseline import save_baseline

    folder = save_baseline(name, records, root)
    console.print(f"baseline '{name}' saved in {folder}; compare with: cmx-bench compare {folder} RECORDS")


@baseline_app.command("show")
def baseline_show(
    name: str = typer.Argument(..., help="Baseline name."),
    root: Path = typer.Option(Path("baselines"), "--root", help="Folder that holds baselines."),
):
    """Show a baseline's runs and the environment that made them."""
    from cmx_bench.results.baseline import load_baseline

    description, loaded = load_baseline(name, root)
    env = description["saved_with"]
    console.print(f"baseline '{name}' saved {description['created_utc']} with Python {env['python']}, "
                  + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v))
    _print_table5(loaded, f"baseline {name}")


def _interrupted_exit() -> None:
    """The words and exit status of an interrupted command: 143 after SIGTERM (128 + 15), 130 after Ctrl-C."""
    from cmx_bench.bench.termination import was_terminated

    by = "SIGTERM" if was_terminated() else "Ctrl-C"
    error_console.print(f"[red]interrupted[/] ({by}): whatever was measured before it is on disk")
    sys.exit(143 if was_terminated() else 130)


def main() -> None:
    import signal

    from cmx_bench.bench.termination import forget_termination, on_sigterm, was_terminated
    from cmx_bench.errors import CmxError

    warnings.filterwarnings("ignore")
    # torch's pytree notice (printed when executorch is imported) is not the user's concern. torch resets its
    # own "torch" logger when it is imported, so the child that prints it is set too.
    logging.getLogger("torch").setLevel(logging.ERROR)
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    honour_columns()
    forget_termination()
    # SIGTERM (a CI runner's or a device lab's timeout) takes Ctrl-C's path (bench/termination.py): the runner
    # stopped, records and report kept, work folders removed, the phone restored; what is being written finishes.
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        app()
    except CmxError as exc:
        print_error(str(exc))
        sys.exit(143 if was_terminated() else 1)
    except KeyboardInterrupt:
        _interrupted_exit()
    except SystemExit as exc:
        if exc.code == 130 or was_terminated():  # Typer turns Ctrl-C into Exit(130); train ends its loop and exits 0
            _interrupted_exit()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
