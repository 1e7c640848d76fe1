"""Run the benchmark: validate everything first, then measure each (model, format) and write its record at once
(with --rounds, once its last round is measured, and a checkpoint of it after every round before that)."""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cmx_bench import __version__
from cmx_bench.bench.inputs import prepare_inputs
from cmx_bench.bench.peak import PeakMeter, efficiency_block
from cmx_bench.bench.termination import termination_deferred
from cmx_bench.bench.tuned import tuned_choices
from cmx_bench.data.images import decode_all, list_images, listing_sha256
from cmx_bench.devices.android.settings import AndroidSettings
from cmx_bench.devices.base import DeviceRun, RunSettings
from cmx_bench.devices.profiles import paper_table5
from cmx_bench.devices.registry import resolve_device
from cmx_bench.errors import CmxError, OutputError, ParseError
from cmx_bench.evaluate.metrics import classification_metrics
from cmx_bench.export.choices import LoweringChoices, target_default
from cmx_bench.export.formats import format_of_file, get_format
from cmx_bench.export.lowering import WithSoftmax
from cmx_bench.export.compatibility import check_artifact_runtime
from cmx_bench.export.manifest import library_versions, verify_artifact
from cmx_bench.export.parity import compare_outputs
from cmx_bench.export.probe import probe_artifact
from cmx_bench.export.program_facts import program_facts
from cmx_bench.export.service import cached_artifact
from cmx_bench.export.targets import device_target
from cmx_bench.fileio import ensure_writable_folder
from cmx_bench.measure.cpu_placement import unavailable_placement
from cmx_bench.measure.operator_profile import operator_profile
from cmx_bench.measure.stats import latency_stats
from cmx_bench.measure.sustained import sustained_block
from cmx_bench.nets.checkpoint import load_model, random_init_facts
from cmx_bench.nets.complexity import count_params_and_macs
from cmx_bench.nets.registry import STUDENTS, build_model, card_for_trained, get_card
from cmx_bench.report.writers import write_report
from cmx_bench.results.record import new_record
from cmx_bench.results.store import drop_checkpoints, new_run_id, write_checkpoint, write_record
from cmx_bench.runner.protocol import JobSettings, make_job


@dataclass
class BenchOptions:
    device: str = "local"
    models: list[str] = field(default_factory=lambda: list(STUDENTS))
    formats: list[str] = field(default_factory=lambda: ["pte"])
    weights: dict[str, Path] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)
    data: Path | None = None
    split: str | None = None
    skip_bad: bool = False  # leave unreadable images and bad manifest rows out (counted in each record)
    trust_pickle: bool = False
    threads: list[int] = field(default_factory=lambda: [0])  # each thread count is its own run; 0: the default
    job: JobSettings = field(default_factory=JobSettings)  # how the runner times (its threads come from `threads`)
    settings: RunSettings = field(default_factory=RunSettings)  # how the host measures
    android: AndroidSettings = field(default_factory=AndroidSettings)  # what only phones need
    out_dir: Path = Path("reports")
    seed: int = 0
    label: str | None = None  # names the run in combined reports; else its id's random suffix
    lowering: str = "cmx"  # how .pte programs are lowered: "cmx" (export/passes.py first) or "stock"
    untuned: bool = False  # lower with the target's default choices even where `cmx-bench tune` measured the device
    rounds: int = 1  # > 1: time every (model, format, threads) once per round, in turn, and pool the latencies


@dataclass
class BenchOutcome:
    run_dir: Path
    records: list[dict]
    report_paths: dict


class Progress:
    """What the bench tells its caller while it works; the CLI renders it as a progress bar."""

    def begin(self, total: int) -> None: ...
    def step(self, label: str) -> None: ...
    def advance(self) -> None: ...


@dataclass
class _Data:
    """The labelled images of --data, decoded, with the listing digest that pairs runs, and what was left out."""
    images: list | None = None
    decoded: list | None = None
    listing: str | None = None
    skipped: list[str] = field(default_factory=list)


def _read_data(options: BenchOptions) -> _Data:
    """Decode every image up front, so that an unreadable one stops the run before anything is measured (or, with
    --skip-bad, is left out and counted)."""
    if not options.data:
        return _Data()
    skipped = [] if options.skip_bad else None
    listed = list_images(options.data, get_card(options.models[0]).classes, split=options.split, skipped=skipped)
    images, decoded, bad = decode_all(listed, skip_bad=options.skip_bad)
    return _Data(images, decoded, listing_sha256(images, options.data), (skipped or []) + bad)


# Enough of the skipped images' reasons for a record to say what was wrong, without growing with a bad data set.
SKIPPED_SHOWN = 10


@dataclass
class _Plan:
    card: object
    fmt: object
    model: torch.nn.Module | None
    weights: dict
    artifact: Path | None = None
    manifest: dict | None = None  # of a given --artifact; exports get theirs when they are made
    threads: int = 0

    def label(self, device_name: str) -> str:
        threads = f" at {self.threads} thread{'s' * (self.threads > 1)}" if self.threads else ""
        return f"{self.card.name} {self.fmt.name}{threads} on {device_name}"


def _plan(options: BenchOptions) -> list[_Plan]:
    """Check every input before anything is measured, so bad input costs nothing and leaves nothing behind."""
    plans = []
    for artifact in options.artifacts:
        artifact = Path(artifact).resolve()  # the host runner starts in its own work folder
        manifest = verify_artifact(artifact)
        card = card_for_trained(get_card(manifest["model"]["name"]), {"trained": {"input_size": manifest["input_shape"][-1]}})
        fmt = get_format(manifest["format"]) if manifest["format"] else format_of_file(artifact)
        probe_artifact(artifact, fmt.runtime)  # a corrupt file fails here, before any run
        model, weights = None, {**manifest.get("weights", {}), "source": "artifact",
                                "artifact_weights_source": manifest.get("weights", {}).get("source")}
        if card.name in options.weights:
            model, facts = load_model(card, options.weights[card.name], trust_pickle=options.trust_pickle)
            weights.update(facts, source="artifact")
        plans.append(_Plan(card, fmt, model, weights, artifact, manifest))
    if options.artifacts:
        return _per_thread_count(plans, options.threads)
    formats = [get_format(name) for name in options.formats]
    unknown = set(options.weights) - set(options.models)
    if unknown:
        raise CmxError(f"--weights given for {', '.join(sorted(unknown))}, which is not among --model; "
                       "use --weights MODEL=PATH for one of the models run")
    for name in options.models:
        card = get_card(name)
        if name in options.weights:
            model, weights = load_model(card, options.weights[name], trust_pickle=options.trust_pickle)
            card = card_for_trained(card, weights)
        else:
            torch.manual_seed(options.seed)
            model, weights = build_model(card), random_init_facts(options.seed)
        plans += [_Plan(card, fmt, model, weights) for fmt in formats]
    return _per_thread_count(plans, options.threads)


def _per_thread_count(plans: list[_Plan], threads: list[int]) -> list[_Plan]:
    """One run per thread count of each plan, thread counts innermost, so that a network's runs sit together."""
    return [replace(plan, threads=count) for plan in plans for count in dict.fromkeys(threads)]


def _describe(record: dict, plan: _Plan, device, facts: dict, options: BenchOptions, data: _Data) -> None:
    """The parts of a record known before anything runs, so that even a failed run says what it was."""
    settings, job = options.settings, _job_settings(options, plan)
    record["config"] = {
        "device": device.name, "model": plan.card.name, "format": plan.fmt.name, "warmup": job.warmup,
        "iterations": job.iterations, "min_duration_s": job.min_duration_s, "threads": plan.threads,
        "sustained_s": settings.sustained_s,
        "sample_period_s": settings.sample_period_s, "sampling": settings.sampling, "weights": plan.weights,
        "data": str(options.data) if options.data else None, "split": options.split,
        "cmx_bench_version": __version__, "label": options.label, "rounds": options.rounds,
    }
    if options.data:
        record["config"]["data_skipped"] = {"count": len(data.skipped), "first": data.skipped[:SKIPPED_SHOWN]}
    record["device"] = {"profile": device.name, **facts}
    record["model"] = {**plan.card.as_dict(), "display_name": plan.card.display_name,
                       "paper_table5_name": plan.card.paper_table5_name}
    record["artifact"] = {"format": plan.fmt.name, "runtime": plan.fmt.runtime, "sha256": None}
    record["energy"] = {"method": "none"}
    reference = paper_table5(device.profile, plan.card.paper_table5_name)
    record["paper_reference"] = (None if reference is None
                                 else {**reference, "source": "paper Table 5 (PyTorch Mobile, 2020)"})


def _fill_record(record: dict, plan: _Plan, artifact: Path, manifest: dict, run: DeviceRun,
                 inputs_description: str) -> None:
    result = run.runner_result
    record["config"]["inputs"] = inputs_description
    record["artifact"] = {"path": str(artifact), "sha256": manifest["sha256"], "format": plan.fmt.name,
                          "runtime": plan.fmt.runtime, "quantization": plan.fmt.quantization,
                          "size_bytes": manifest.get("size_bytes"), "export_parity": manifest.get("parity"),
                          "versions": manifest.get("versions")}
    record["runner"] = runner_block(result)
    record["latency"]["samples_ms"] = result["latencies_ms"]
    if result["latencies_ms"]:
        record["latency"]["stats"] = latency_stats(result["latencies_ms"])
    record["timeseries"], record["sampler"] = run.series, run.sampler
    record["placement"] = run.placement or unavailable_placement("sampling was off or too short")
    record["cpu"], record["memory"], record["energy"], record["thermal"] = run.cpu, run.memory, run.energy, run.thermal
    if result["status"] != "ok":
        record["status"] = "error"
        record["errors"].append(f"runner: {result['error']}")
    elif not run.energy:
        record["energy"] = {"method": "none", "note": "sampling was off or too short; no energy figure"}


# What this version's runners report of the second load in the same process (the first is load_ms).
WARM_LOAD_KEYS = ("warm_load_ms", "warm_first_inference_ms", "warm_load_error")


def runner_block(result: dict) -> dict:
    """The record's runner block: who ran it, with what runtime and threads, its phases, cold and warm loads; a result
    from a runner older than the warm load says that it is missing, rather than leaving a silent gap."""
    block = {key: result[key] for key in ("runner", "runtime", "phases", "load_ms", "first_inference_ms")}
    block.update({key: result.get(key) for key in WARM_LOAD_KEYS})
    if "warm_load_ms" not in result:
        block["warm_load_error"] = (f"{result['runner']['name']} {result['runner']['version']} reports no warm load "
                                    "(an older runner); update it to see one")
    return block


def _etrecord_of(manifest: dict, artifact: Path) -> str | None:
    """The artifact's ETRecord when its manifest names one and it is there (older exports have none)."""
    name = manifest.get("etrecord")
    return str(Path(artifact).parent / name) if name and (Path(artifact).parent / name).is_file() else None


def _profile_block(record: dict, plan: _Plan, artifact: Path, manifest: dict, run: DeviceRun,
                   network: dict | None) -> dict:
    """Operators from the runner's ETDump, the artifact's memory plan and the network's size; a profile that cannot be
    read is one line in the record's errors, and the run's other figures stay."""
    reported = run.runner_result.get("profile") or {}
    program = manifest.get("program") or {}
    block = {"status": "unavailable", "reason": reported.get("reason") or "the runner wrote no profile",
             "artifact": {key: program.get(key) for key in ("planned_activation_bytes", "constant_bytes",
                                                            "delegate_payload_bytes") if key in program},
             "network": network}
    stats = record["latency"].get("stats") or {}
    if run.profile_file is not None and stats:
        etrecord = _etrecord_of(manifest, artifact)
        try:
            block.update(operator_profile(run.profile_file, stats["median_ms"], reported["iterations"], etrecord,
                                          reported.get("reference_latencies_ms"),
                                          reported.get("profiled_latencies_ms")), status="ok", reason=None)
        except ParseError as exc:
            record["errors"].append(f"operator profile: {exc}")
            block["reason"] = str(exc)
    return block


def _accuracy_block(plan: _Plan, prepared, outputs, listing: str) -> dict:
    probs = np.asarray(outputs, dtype=float)
    block = classification_metrics(probs, np.asarray(prepared.labels), plan.card.classes)
    # Per image, in the order of the data listing, so that compare can pair two runs on the same images.
    block.update(outputs=probs.tolist(), labels=list(prepared.labels), images_sha256=listing)
    if prepared.sources and any(prepared.sources):
        predicted, labels = probs.argmax(1), np.asarray(prepared.labels)
        block["per_source_accuracy"] = {
            source: float((predicted[mask] == labels[mask]).mean())
            for source in sorted(set(prepared.sources))
            for mask in [np.asarray([s == source for s in prepared.sources])]}
    if plan.model is not None:
        eager = WithSoftmax(plan.model).eval()
        with torch.no_grad():
            reference = torch.cat([eager(x) for x in prepared.tensors])
        block["parity"] = {**compare_outputs(reference, torch.tensor(probs, dtype=torch.float32)),
                           "reference": "eager PyTorch model on the same tensors (host)"}
        block["eager"] = classification_metrics(reference.numpy(), np.asarray(prepared.labels), plan.card.classes,
                                                intervals=False)
    return block


# Device workers share the artifact cache: one export at a time, so two phones never write the same artifact.
_EXPORT_LOCK = threading.Lock()


def _with_program(manifest: dict, artifact: Path, runtime: str) -> dict:
    """A manifest with the artifact's program facts (manifests written before they were recorded lack them)."""
    return manifest if manifest.get("program") else {**manifest, "program": program_facts(artifact, runtime)}


def _check_runtimes_first(plans: list[_Plan], device, runtimes: dict, options: BenchOptions) -> None:
    """Refuse, before anything is pushed or measured, what the device's runtime is not known to load. Exports not
    made yet are judged by the exporter's version; a .ptl's operators are checked once it exists."""
    for plan in plans:
        if plan.manifest is not None:
            manifest = _with_program(plan.manifest, plan.artifact, plan.fmt.runtime)
        elif plan.fmt.runtime == "executorch":
            manifest = {"versions": library_versions()}
        else:
            continue
        check_artifact_runtime(plan.label(device.name), plan.fmt.runtime, manifest, device.name, runtimes,
                               options.settings.allow_version_skew)


@dataclass
class _Measuring:
    """What every (model, format) run of one device shares: the device, its runtimes, the inputs and work folder."""
    device: object
    runtimes: dict
    options: BenchOptions
    data: _Data
    workdir: Path
    target: str  # the CPU family its .pte programs are lowered for (export/targets.py)
    facts: dict = field(default_factory=dict)
    prepared_by_model: dict = field(default_factory=dict)
    peaks: PeakMeter | None = None  # the device's own peak, measured once per (precision, threads) in a run
    choices_by_threads: dict = field(default_factory=dict)

    def choices(self, threads: int) -> LoweringChoices:
        """The cmx lowering's choices at a thread count: as tuned on this device (bench/tuned.py), else the
        target's defaults (which the stock lowering ignores)."""
        if threads not in self.choices_by_threads:
            tuned = None if not _reads_tuning(self.options) else tuned_choices(
                self.device.name, self.facts, self.runtimes.get("executorch"), threads)
            self.choices_by_threads[threads] = tuned or target_default(self.target)
        return self.choices_by_threads[threads]


def _reads_tuning(options: BenchOptions) -> bool:
    return options.lowering == "cmx" and not options.untuned


# A sustained run is bounded by its duration, not by an iteration count.
SUSTAINED_MAX_ITERATIONS = 100_000_000
# Beyond the sustained duration, time for the load, warm-up, outputs and the warm load.
SUSTAINED_TIMEOUT_MARGIN_S = 300.0


def _job_settings(options: BenchOptions, plan: _Plan) -> JobSettings:
    """The plan's job: its thread count, and for a sustained run the duration in place of the iteration cap."""
    job = replace(options.job, threads=plan.threads)
    sustained = options.settings.sustained_s
    # iterations 1: the duration alone decides, so that a slow network does not run past it
    return replace(job, iterations=1, min_duration_s=sustained, max_iterations=SUSTAINED_MAX_ITERATIONS) \
        if sustained else job


def _run_settings(options: BenchOptions) -> RunSettings:
    """The host's settings, with a sustained run's timeout raised to fit its duration."""
    settings, sustained = options.settings, options.settings.sustained_s
    if not sustained:
        return settings
    return replace(settings, timeout_s=max(settings.timeout_s, sustained + SUSTAINED_TIMEOUT_MARGIN_S))


def _network_size(plan: _Plan, manifest: dict) -> dict | None:
    """Parameters and MACs beside the paper's: counted at export into the manifest (older manifests: counted now,
    where the network is at hand)."""
    counted = manifest.get("complexity")
    if counted is None and plan.model is not None:
        counted = count_params_and_macs(plan.model, plan.card.input_shape)
    if counted is None:
        return None
    return {**counted, "paper_params": plan.card.paper_params, "paper_macs": plan.card.paper_macs}


@dataclass
class _Rerun:
    """What a later round needs to time the plan's artifact again: latency only, no profile or outputs."""
    artifact: Path
    files: list
    job: dict
    manifest: dict


def _measure(record: dict, plan: _Plan, shared: _Measuring, progress: Progress) -> _Rerun | None:
    """Export (or check) the plan's artifact, run it on the device and fill the record; CmxError for a failed run.
    Returns what a later round (--rounds) needs to time the artifact again; None with one round or none timed."""
    device, options, data = shared.device, shared.options, shared.data
    label = plan.label(device.name)
    progress.step(f"export {label}" if plan.artifact is None else f"check {label}")
    choices = shared.choices(plan.threads)
    with _EXPORT_LOCK:
        artifact = plan.artifact or cached_artifact(plan.card, plan.model, plan.weights, plan.fmt,
                                                    lowering=options.lowering, target=shared.target, choices=choices)
    manifest = _with_program(verify_artifact(artifact), artifact, plan.fmt.runtime)
    runtime_check = check_artifact_runtime(label, plan.fmt.runtime, manifest, device.name, shared.runtimes,
                                           options.settings.allow_version_skew)
    progress.step(f"run {label}")
    if plan.card.name not in shared.prepared_by_model:
        shared.prepared_by_model[plan.card.name] = prepare_inputs(
            plan.card, shared.workdir / f"inputs-{plan.card.name}", data.images, data.decoded)
    prepared = shared.prepared_by_model[plan.card.name]
    job = make_job(artifact=str(artifact), fmt=plan.fmt.name, runtime=plan.fmt.runtime,
                   input_shape=plan.card.input_shape, inputs=[str(p) for p in prepared.files],
                   settings=_job_settings(options, plan), return_outputs=data.images is not None)
    run = device.run(artifact, prepared.files, job, _run_settings(options), shared.workdir)
    _fill_record(record, plan, artifact, manifest, run, prepared.description)
    record["artifact"]["runtime_check"] = runtime_check
    # Manifests from before the lowering was recorded come from ExecuTorch's stock lowering.
    record["artifact"]["lowering"] = dict(manifest.get("lowering") or {"name": "stock"})
    if plan.artifact is None and record["artifact"]["lowering"]["name"] == "cmx":
        record["artifact"]["lowering"]["choices_source"] = choices.source
    if options.settings.sustained_s and run.runner_result["latencies_ms"]:
        phases = run.runner_result["phases"]
        record["sustained"] = sustained_block(run.runner_result["latencies_ms"], phases["measure_start"],
                                              phases["measure_end"], run.readings, options.settings.sustained_s)
    if options.job.profile_iterations:
        record["profile"] = _profile_block(record, plan, artifact, manifest, run, _network_size(plan, manifest))
    if data.images is not None and run.runner_result["outputs"]:
        record["accuracy"] = _accuracy_block(plan, prepared, run.runner_result["outputs"], data.listing)
    # After the network's run, so that the calibration never runs between its samplers' readings.
    record["efficiency"] = efficiency_block(record, plan.fmt, plan.threads, manifest, shared.peaks)
    if options.rounds == 1 or not _timed_ok(run):
        return None
    record["latency"]["rounds"] = [_round_summary(1, run.runner_result["latencies_ms"])]
    rerun_job = make_job(artifact=str(artifact), fmt=plan.fmt.name, runtime=plan.fmt.runtime,
                         input_shape=plan.card.input_shape, inputs=[str(p) for p in prepared.files],
                         settings=replace(_job_settings(options, plan), profile_iterations=0))
    return _Rerun(artifact, prepared.files, rerun_job, manifest)


def _timed_ok(run: DeviceRun) -> bool:
    return run.runner_result["status"] == "ok" and bool(run.runner_result["latencies_ms"])


def _round_summary(round_number: int, samples_ms: list) -> dict:
    return {"round": round_number, "count": len(samples_ms), "median_ms": float(np.median(samples_ms))}


def _time_again(record: dict, plan: _Plan, rerun: _Rerun, shared: _Measuring, round_number: int,
                progress: Progress) -> None:
    """A later round: time the same artifact in a new runner, pool its latencies into the record and restate its
    statistics and efficiency (the profile keeps round 1's median); CmxError when the round fails (the record keeps
    the rounds before it)."""
    options = shared.options
    progress.step(f"run {plan.label(shared.device.name)}, round {round_number} of {options.rounds}")
    run = shared.device.run(rerun.artifact, rerun.files, rerun.job, _run_settings(options), shared.workdir)
    if not _timed_ok(run):
        raise CmxError(f"runner: {run.runner_result['error'] or 'no latencies'}")
    latency = record["latency"]
    latency["samples_ms"] = latency["samples_ms"] + run.runner_result["latencies_ms"]
    latency["rounds"].append(_round_summary(round_number, run.runner_result["latencies_ms"]))
    latency["stats"] = latency_stats(latency["samples_ms"])
    if record["efficiency"].get("status") == "ok":  # else it already says why not, once
        record["efficiency"] = efficiency_block(record, plan.fmt, plan.threads, rerun.manifest, shared.peaks)


def _pool_round(entry: list, shared: _Measuring, round_number: int, failures: list[str], progress: Progress) -> bool:
    """Time one plan's later round; a failed round ends that plan's rounds and is one line in its record's errors,
    while its status stays ok: the rounds before it were measured. False when the plan's rounds had ended."""
    plan, record, rerun = entry
    if rerun is None:
        return False
    try:
        _time_again(record, plan, rerun, shared, round_number, progress)
    except CmxError as exc:
        message = (f"round {round_number} of {shared.options.rounds} failed ({exc}); latency pools "
                   f"{_rounds_measured(record)}")
        record["errors"].append(message)
        failures.append(f"{plan.label(shared.device.name)}: {message}")
        entry[2] = None
    return True


def _checkpoint(record: dict, run_dir: Path, round_number: int, rounds: int, timing: bool) -> None:
    """The record as measured so far, in the run's pending/ folder (results/store.py), marked as a checkpoint and,
    while its rounds go on (`timing`), saying that the run stopped before its last round: what it reads as,
    should the process die before the record is final (a record whose rounds ended says why in its errors)."""
    checkpoint = copy.deepcopy(record)
    checkpoint["checkpoint"] = {"round": round_number, "rounds": rounds}
    if timing and record["status"] == "ok":
        checkpoint["errors"].append(f"the run stopped after round {round_number} of {rounds}; latency pools "
                                    f"{_rounds_measured(record)} (a checkpoint)")
    with termination_deferred():
        write_checkpoint(run_dir, checkpoint, round_number)


def _rounds_measured(record: dict) -> str:
    done = len(record["latency"]["rounds"])
    return "round 1" if done == 1 else f"rounds 1-{done}"


def kept_note(records: list[dict], run_dir: Path) -> str:
    """What a failure leaves on disk, in words that claim measured results only when some run measured something."""
    if any(record["status"] == "ok" for record in records):
        return f"measured results are kept in {run_dir}"
    if records:
        return f"nothing was measured; the failed runs are recorded in {run_dir}"
    return "nothing was measured"


def _keep(record: dict, run_dir: Path, records: list[dict]) -> None:
    """Write the record at once; a SIGTERM meanwhile waits until it is on disk."""
    try:
        with termination_deferred():
            write_record(run_dir, record)
            records.append(record)  # before a deferred SIGTERM takes effect, so that the partial report has it
    except OutputError as exc:  # a full disk: the records written before this one stay
        raise OutputError(f"{exc}; {kept_note(records, run_dir)}" if records else str(exc)) from exc


def _report(records: list[dict], run_dir: Path, title: str) -> dict:
    """The run's report, whole or not at all; a SIGTERM meanwhile waits until it is on disk."""
    try:
        with termination_deferred():
            return write_report(records, run_dir, title=title)
    except OutputError as exc:
        raise OutputError(f"{exc}; the report was not written, {kept_note(records, run_dir)}") from exc


def _check_rounds(options: BenchOptions) -> None:
    if options.rounds < 1:
        raise CmxError(f"--rounds {options.rounds}: give 1 or more")
    if options.rounds > 1 and options.settings.sustained_s:
        raise CmxError(f"--rounds {options.rounds} with --sustained: a sustained run is one run without pause; "
                       "drop one of the two")


def run_benchmark(options: BenchOptions, progress: Progress = Progress()) -> BenchOutcome:
    _check_rounds(options)
    device = resolve_device(options.device, options.android)
    data = _read_data(options)
    plans = _plan(options)
    runtimes = device.runtimes()
    _check_runtimes_first(plans, device, runtimes, options)
    facts = device.facts()
    if _reads_tuning(options):  # an unreadable tuning file stops the run before it starts
        for threads in options.threads:
            tuned_choices(device.name, facts, runtimes.get("executorch"), threads)
    # Made only now that every input has passed its checks, so that refused input leaves no empty folder behind.
    out_root = ensure_writable_folder(options.out_dir)
    run_id = new_run_id()
    run_dir = out_root / run_id
    title = f"cmx-bench run {run_id} on {device.name}"
    records, failures = [], []
    progress.begin(len(plans) * options.rounds)
    workdir = Path(tempfile.mkdtemp(prefix="cmx-bench-"))
    shared = _Measuring(device, runtimes, options, data, workdir, device_target(facts), facts,
                        peaks=PeakMeter(device, options.settings, workdir, _EXPORT_LOCK))
    # With --rounds: [plan, record, rerun or None once it failed], final after the last round, a checkpoint till then.
    pooling = []
    try:
        for plan in plans:
            record = new_record(run_id)
            _describe(record, plan, device, facts, options, data)
            rerun = None
            try:
                rerun = _measure(record, plan, shared, progress)
            except CmxError as exc:
                record["status"] = "error"
                record["errors"].append(str(exc))
            if record["status"] == "error":
                failures.append(f"{plan.label(device.name)}: {record['errors'][0]}")
            if options.rounds > 1:
                pooling.append([plan, record, rerun])
                _checkpoint(record, run_dir, 1, options.rounds, timing=rerun is not None)
            else:
                _keep(record, run_dir, records)
            progress.advance()
        for round_number in range(2, options.rounds + 1):
            for entry in pooling:
                if _pool_round(entry, shared, round_number, failures, progress):
                    _checkpoint(entry[1], run_dir, round_number, options.rounds, timing=entry[2] is not None)
                progress.advance()
        while pooling:
            _keep(pooling[0][1], run_dir, records)
            record = pooling.pop(0)[1]  # only once written: an interrupt in between leaves it to the handler below
            drop_checkpoints(run_dir, record)
    except BaseException:
        for _, record, rerun in pooling:  # the rounds measured so far
            if any(kept is record for kept in records):  # final already: the interrupt came before its pop
                drop_checkpoints(run_dir, record)
                continue
            if rerun is not None and len(record["latency"]["rounds"]) < options.rounds:
                record["errors"].append(f"stopped after {len(record['latency']['rounds'])} of {options.rounds} "
                                        f"rounds; latency pools {_rounds_measured(record)}")
            with contextlib.suppress(CmxError):  # one that cannot be written must not keep the others from disk
                _keep(record, run_dir, records)
                drop_checkpoints(run_dir, record)
        if records:  # Ctrl-C, SIGTERM or a failure: the report covers what was measured
            with contextlib.suppress(OutputError):  # the failure in flight is the one to tell
                _report(records, run_dir, title)
        raise
    finally:
        shutil.rmtree(shared.workdir, ignore_errors=True)
    outcome = BenchOutcome(run_dir, records, _report(records, run_dir, title) if records else {})
    if failures:
        raise BenchFailed(outcome, failures)
    return outcome


class BenchFailed(CmxError):
    """Some runs failed (perhaps all); the outcome (records, report) is on disk."""

    def __init__(self, outcome: BenchOutcome, failures: list[str]):
        super().__init__(f"{len(failures)} of {len(outcome.records)} runs failed ({failures[0]}); "
                         f"{kept_note(outcome.records, outcome.run_dir)}")
        self.outcome = outcome
