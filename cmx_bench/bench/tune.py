"""`cmx-bench tune`: each CPU-dependent rewrite of the cmx lowering timed on and off on the device; the faster kept."""

from __future__ import annotations

import shutil
import statistics
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from cmx_bench.bench.inputs import prepare_inputs
from cmx_bench.bench.session import Progress
from cmx_bench.bench.tuned import save_tuning
from cmx_bench.devices.android.settings import AndroidSettings
from cmx_bench.devices.base import RunSettings
from cmx_bench.devices.registry import resolve_device
from cmx_bench.errors import CmxError, RunnerError
from cmx_bench.export.calibration import FORMAT_OF_PRECISION
from cmx_bench.export.choices import KNOBS, LoweringChoices, target_default
from cmx_bench.export.compatibility import check_artifact_runtime
from cmx_bench.export.formats import get_format
from cmx_bench.export.manifest import verify_artifact
from cmx_bench.export.service import cached_artifact
from cmx_bench.export.targets import device_target
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import STUDENTS, build_model, get_card
from cmx_bench.runner.protocol import JobSettings, make_job

# One timing of one variant: short, since the rounds repeat it; settle_s 0, as nothing samples it.
TRIAL_JOB = JobSettings(warmup=5, iterations=30, min_duration_s=0.5, settle_s=0.0)
# A knob moves off its target's default only when turning it on changes the time by more than this: the round-to-round
# drift of a shared 2-core host is a few per cent, and a default that was measured somewhere is worth keeping when a
# difference is that small.
MARGIN = 0.02


@dataclass
class TuneOptions:
    device: str = "local"
    models: list[str] = field(default_factory=lambda: list(STUDENTS))
    formats: list[str] = field(default_factory=lambda: ["pte", "pte-int8"])
    threads: int = 0  # 0 keeps the runtime's default, as `run` does
    rounds: int = 5
    job: JobSettings = TRIAL_JOB
    android: AndroidSettings = field(default_factory=AndroidSettings)
    seed: int = 0


@dataclass(frozen=True)
class KnobTrial:
    """One knob timed on and off on the device, over the models whose program it changed: per round, each form's
    medians summed over those models; on_ms and off_ms, the median of those sums over the rounds; ratio, the median
    of the per-round on / off ratios (below 1: on is faster)."""
    precision: str
    knob: str
    models: tuple[str, ...]
    on_ms: float | None
    off_ms: float | None
    ratio: float | None
    round_ratios: tuple[float, ...]
    default_on: bool
    chosen_on: bool
    reason: str


@dataclass
class TuneOutcome:
    device: str
    target: str
    threads: int
    choices: LoweringChoices
    trials: list[KnobTrial]
    path: Path


class TuneFailed(CmxError):
    """The tuning stopped part way (a phone went away, a runner failed); the knobs measured before are kept."""


def decide(round_ratios: list[float], default_on: bool, margin: float = MARGIN) -> tuple[bool, str]:
    """Whether a knob is on, from its per-round on / off time ratios (their median decides, so at least half the
    rounds agree), and why in words, with how many rounds agree: on a host whose processes run in a fast or a slow
    mode (see README, Benchmarks) single rounds swing far, and a user should see how settled the answer is."""
    if not round_ratios:
        return default_on, "no model here has a site for it: the default stays"
    ratio, rounds = statistics.median(round_ratios), len(round_ratios)
    if ratio <= 1 - margin:
        agreeing = sum(r <= 1 - margin for r in round_ratios)
        return True, f"on: it takes {ratio:.3f}x the time ({agreeing} of {rounds} rounds)"
    if ratio >= 1 + margin:
        agreeing = sum(r >= 1 + margin for r in round_ratios)
        return False, f"off: on takes {ratio:.3f}x the time ({agreeing} of {rounds} rounds)"
    return default_on, f"within {margin:.0%} either way ({ratio:.3f}x): the default stays"


@dataclass
class _Tuning:
    """What the trials of one tuning share: the device, its runtimes, the networks and their inputs."""
    device: object
    runtimes: dict
    target: str
    options: TuneOptions
    workdir: Path
    networks: dict = field(default_factory=dict)  # name -> (card, model, weights)
    inputs: dict = field(default_factory=dict)  # name -> prepared inputs


def _median_ms(tuning: _Tuning, card, fmt, artifact: Path) -> float:
    prepared = tuning.inputs.setdefault(card.name, prepare_inputs(card, tuning.workdir / f"inputs-{card.name}",
                                                                  None, None))
    job = make_job(artifact=str(artifact), fmt=fmt.name, runtime=fmt.runtime, input_shape=card.input_shape,
                   inputs=[str(p) for p in prepared.files],
                   settings=replace(tuning.options.job, threads=tuning.options.threads))
    result = tuning.device.run(artifact, prepared.files, job, RunSettings(sampling=False), tuning.workdir).runner_result
    if result["status"] != "ok" or not result["latencies_ms"]:
        raise RunnerError(f"the runner failed on {card.name} {fmt.name} ({result.get('error')})")
    return statistics.median(result["latencies_ms"])


def _variants(tuning: _Tuning, precision: str, knob: str, base: LoweringChoices, progress: Progress) -> list:
    """(card, {on: artifact}) for each model whose program the knob changes; the artifacts land in the cache that
    `run` reads, so that the chosen one is not exported again."""
    fmt = get_format(FORMAT_OF_PRECISION[precision])
    pairs = []
    for card, model, weights in tuning.networks.values():
        artifacts = {}
        for on in (True, False):
            progress.step(f"export {card.name} {fmt.name}, {knob} {'on' if on else 'off'}")
            choices = base.with_knob(precision, knob, on, base.source)
            artifacts[on] = cached_artifact(card, model, weights, fmt, target=tuning.target, choices=choices)
            manifest = verify_artifact(artifacts[on])
            check_artifact_runtime(f"{card.name} {fmt.name}", fmt.runtime, manifest, tuning.device.name,
                                   tuning.runtimes, False)
            if on and not manifest["lowering"]["passes"].get(knob):
                break  # nothing to rewrite: both programs are the same
        else:
            pairs.append((card, artifacts))
    return pairs


def _trial(tuning: _Tuning, precision: str, knob: str, base: LoweringChoices, progress: Progress) -> KnobTrial:
    fmt = get_format(FORMAT_OF_PRECISION[precision])
    default_on = knob in base.on(precision)
    pairs = _variants(tuning, precision, knob, base, progress)
    totals: dict[bool, list[float]] = {True: [], False: []}
    ratios = []
    for round_index in range(tuning.options.rounds if pairs else 0):
        progress.step(f"time {fmt.name} {knob} on and off, round {round_index + 1} of {tuning.options.rounds}")
        # Alternate which goes first, so that a trend over the round (a clock settling) favours neither.
        order = (True, False) if round_index % 2 == 0 else (False, True)
        total = {True: 0.0, False: 0.0}
        for card, artifacts in pairs:
            for on in order:
                total[on] += _median_ms(tuning, card, fmt, artifacts[on])
        for on in (True, False):
            totals[on].append(total[on])
        ratios.append(total[True] / total[False])
    ratio = statistics.median(ratios) if ratios else None
    chosen_on, reason = decide(ratios, default_on)
    return KnobTrial(precision, knob, tuple(card.name for card, _ in pairs),
                     statistics.median(totals[True]) if ratios else None,
                     statistics.median(totals[False]) if ratios else None,
                     ratio, tuple(round(r, 4) for r in ratios), default_on, chosen_on, reason)


def tune_device(options: TuneOptions, progress: Progress = Progress()) -> TuneOutcome:
    """Time every knob (export/choices.py) on and off on the device, each with the others at the target's default,
    and keep the choices for this device, runtime and thread count (bench/tuned.py), which `run` then lowers with."""
    formats = [get_format(name) for name in options.formats]
    if any(fmt.runtime != "executorch" for fmt in formats):
        raise CmxError("tune chooses how .pte programs are lowered: use --format pte or pte-int8")
    precisions = list(dict.fromkeys(fmt.quantization for fmt in formats))
    cards = [get_card(name) for name in options.models]
    device = resolve_device(options.device, options.android)
    facts, runtimes = device.facts(), device.runtimes()
    target = device_target(facts)
    base = target_default(target)
    tuning = _Tuning(device, runtimes, target, options, Path(tempfile.mkdtemp(prefix="cmx-tune-")))
    for card in cards:
        torch.manual_seed(options.seed)
        tuning.networks[card.name] = (card, build_model(card), random_init_facts(options.seed))
    knobs = [(precision, knob) for precision in precisions for knob in KNOBS[precision]]
    progress.begin(len(knobs))
    trials: list[KnobTrial] = []
    chosen = replace(base, source=f"tuned on {device.name}")
    try:
        for precision, knob in knobs:
            trial = _trial(tuning, precision, knob, base, progress)
            trials.append(trial)
            chosen = chosen.with_knob(precision, knob, trial.chosen_on, chosen.source)
            progress.advance()
    except CmxError as exc:
        if not trials:
            raise
        # The knobs measured so far are a tuning too: the others keep the target's default.
        path = save_tuning(device.name, facts, runtimes.get("executorch"), options.threads, chosen,
                           [asdict(trial) for trial in trials], complete=False)
        raise TuneFailed(f"{exc}; the {len(trials)} knob(s) measured before are kept in {path}") from exc
    finally:
        shutil.rmtree(tuning.workdir, ignore_errors=True)
    path = save_tuning(device.name, facts, runtimes.get("executorch"), options.threads, chosen,
                       [asdict(trial) for trial in trials])
    return TuneOutcome(device.name, target, options.threads, chosen, trials, path)
