"""Run the benchmark: validate everything first, then measure each (model, format) and write its record at once."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cmx_bench import __version__
from cmx_bench.bench.inputs import prepare_inputs
from cmx_bench.data.images import decode_all, list_images, listing_sha256
from cmx_bench.devices.base import DeviceRun, RunSettings
from cmx_bench.devices.profiles import paper_table5
from cmx_bench.devices.registry import resolve_device
from cmx_bench.errors import CmxError, ParseError
from cmx_bench.evaluate.metrics import classification_metrics
from cmx_bench.export.formats import format_of_file, get_format
from cmx_bench.export.lowering import WithSoftmax
from cmx_bench.export.compatibility import check_artifact_runtime
from cmx_bench.export.manifest import library_versions, verify_artifact
from cmx_bench.export.parity import compare_outputs
from cmx_bench.export.probe import probe_artifact
from cmx_bench.export.program_facts import program_facts
from cmx_bench.export.service import cached_artifact
from cmx_bench.fileio import ensure_writable_folder
from cmx_bench.measure.operator_profile import operator_profile
from cmx_bench.measure.stats import latency_stats
from cmx_bench.nets.checkpoint import load_model, random_init_facts
from cmx_bench.nets.complexity import count_params_and_macs
from cmx_bench.nets.registry import STUDENTS, build_model, card_for_trained, get_card
from cmx_bench.report.writers import write_report
from cmx_bench.results.record import new_record
from cmx_bench.results.store import new_run_id, write_record
from cmx_bench.runner.protocol import make_job


@dataclass
class BenchOptions:
    device: str = "local"
    models: list[str] = field(default_factory=lambda: list(STUDENTS))
    formats: list[str] = field(default_factory=lambda: ["pte"])
    weights: dict[str, Path] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)
    data: Path | None = None
    split: str | None = None
    trust_pickle: bool = False
    settings: RunSettings = field(default_factory=RunSettings)
    out_dir: Path = Path("reports")
    seed: int = 0
    label: str | None = None  # names the run in combined reports; else its id's random suffix


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
class _Plan:
    card: object
    fmt: object
    model: torch.nn.Module | None
    weights: dict
    artifact: Path | None = None
    manifest: dict | None = None  # of a given --artifact; exports get theirs when they are made

    def label(self, device_name: str) -> str:
        return f"{self.card.name} {self.fmt.name} on {device_name}"


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
        return plans
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
    return plans


def _describe(record: dict, plan: _Plan, device, facts: dict, options: BenchOptions) -> None:
    """The parts of a record known before anything runs, so that even a failed run says what it was."""
    settings = options.settings
    record["config"] = {
        "device": device.name, "model": plan.card.name, "format": plan.fmt.name, "warmup": settings.warmup,
        "iterations": settings.iterations, "min_duration_s": settings.min_duration_s, "threads": settings.threads,
        "sample_period_s": settings.sample_period_s, "sampling": settings.sampling, "weights": plan.weights,
        "data": str(options.data) if options.data else None, "split": options.split,
        "cmx_bench_version": __version__, "label": options.label,
    }
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
    record["runner"] = {key: result[key] for key in ("runner", "runtime", "phases", "load_ms", "first_inference_ms")}
    record["latency"]["samples_ms"] = result["latencies_ms"]
    if result["latencies_ms"]:
        record["latency"]["stats"] = latency_stats(result["latencies_ms"])
    record["timeseries"], record["sampler"] = run.series, run.sampler
    record["cpu"], record["memory"], record["energy"], record["thermal"] = run.cpu, run.memory, run.energy, run.thermal
    if result["status"] != "ok":
        record["status"] = "error"
        record["errors"].append(f"runner: {result['error']}")
    elif not run.energy:
        record["energy"] = {"method": "none", "note": "sampling was off or too short; no energy figure"}


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


def run_benchmark(options: BenchOptions, progress: Progress = Progress()) -> BenchOutcome:
    device = resolve_device(options.device, options.settings)
    out_root = ensure_writable_folder(options.out_dir)
    images = list_images(options.data, get_card(options.models[0]).classes, split=options.split) if options.data else None
    # Decode every image up front, so that an unreadable one stops the run before anything is measured.
    decoded = decode_all(images)[1] if images else None
    listing = listing_sha256(images, options.data) if images else None
    plans = _plan(options)
    runtimes = device.runtimes(options.settings)
    _check_runtimes_first(plans, device, runtimes, options)
    run_id = new_run_id()
    run_dir = out_root / run_id
    records, failures = [], []
    facts = device.facts()
    progress.begin(len(plans))
    workdir = Path(tempfile.mkdtemp(prefix="cmx-bench-"))
    prepared_by_model, network_by_model = {}, {}
    try:
        for plan in plans:
            label = plan.label(device.name)
            record = new_record(run_id)
            _describe(record, plan, device, facts, options)
            try:
                progress.step(f"export {label}" if plan.artifact is None else f"check {label}")
                with _EXPORT_LOCK:
                    artifact = plan.artifact or cached_artifact(plan.card, plan.model, plan.weights, plan.fmt)
                manifest = _with_program(verify_artifact(artifact), artifact, plan.fmt.runtime)
                runtime_check = check_artifact_runtime(label, plan.fmt.runtime, manifest, device.name, runtimes,
                                                       options.settings.allow_version_skew)
                progress.step(f"run {label}")
                if plan.card.name not in prepared_by_model:
                    prepared_by_model[plan.card.name] = prepare_inputs(
                        plan.card, workdir / f"inputs-{plan.card.name}", images, decoded)
                prepared = prepared_by_model[plan.card.name]
                job = make_job(artifact=str(artifact), fmt=plan.fmt.name, runtime=plan.fmt.runtime,
                               input_shape=plan.card.input_shape, inputs=[str(p) for p in prepared.files],
                               warmup=options.settings.warmup, iterations=options.settings.iterations,
                               min_duration_s=options.settings.min_duration_s, threads=options.settings.threads,
                               return_outputs=images is not None,
                               settle_s=options.settings.settle_s,
                               profile_iterations=options.settings.profile_iterations)
                run = device.run(artifact, prepared.files, job, options.settings, workdir)
                _fill_record(record, plan, artifact, manifest, run, prepared.description)
                record["artifact"]["runtime_check"] = runtime_check
                if options.settings.profile_iterations:
                    if plan.model is not None and plan.card.name not in network_by_model:  # once per network
                        network_by_model[plan.card.name] = {
                            **count_params_and_macs(plan.model, plan.card.input_shape),
                            "paper_params": plan.card.paper_params, "paper_macs": plan.card.paper_macs}
                    record["profile"] = _profile_block(record, plan, artifact, manifest, run,
                                                       network_by_model.get(plan.card.name))
                if images is not None and run.runner_result["outputs"]:
                    record["accuracy"] = _accuracy_block(plan, prepared, run.runner_result["outputs"], listing)
            except CmxError as exc:
                record["status"] = "error"
                record["errors"].append(str(exc))
            write_record(run_dir, record)
            records.append(record)
            if record["status"] == "error":
                failures.append(f"{label}: {record['errors'][0]}")
            progress.advance()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if records:  # also on Ctrl-C: the report covers what was measured
            report_paths = write_report(records, run_dir, title=f"cmx-bench run {run_id} on {device.name}")
    outcome = BenchOutcome(run_dir, records, report_paths)
    if failures:
        raise BenchFailed(outcome, failures)
    return outcome


class BenchFailed(CmxError):
    """Some runs failed after others were measured; the outcome (records, report) is on disk."""

    def __init__(self, outcome: BenchOutcome, failures: list[str]):
        super().__init__(f"{len(failures)} of {len(outcome.records)} runs failed ({failures[0]}); "
                         f"measured results are kept in {outcome.run_dir}")
        self.outcome = outcome
