"""Compare two sets of run records: match runs, judge each metric better / worse / unchanged, flag regressions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import mannwhitneyu

from cmx_bench.errors import RecordError
from cmx_bench.evaluate.paired import mcnemar_exact, paired_auroc_bootstrap
from cmx_bench.results.metrics import READERS, latency_samples_ms, threads_in_force
from cmx_bench.results.thresholds import Metric

ALPHA = 0.05  # significance level for metrics with raw samples
# Figures that follow the runtime's configuration (threads, runtime version), not the code under test: when the
# configuration differs they are shown but not judged.
CONFIGURATION_BOUND = ("cpu_ms_per_inference", "energy_per_inference_mj")


def run_key(record: dict) -> tuple[str, str, str]:
    config = record["config"]
    return config["device"], config["model"], config["format"]


@dataclass
class MetricComparison:
    device: str
    model: str
    format: str
    metric: str
    unit: str
    base: float
    current: float
    change: float  # current - base, in the metric's unit
    relative_change: float | None
    threshold: str
    p_value: float | None
    verdict: str  # better / worse / unchanged / not judged
    test: str  # the significance test behind p_value, "" where the threshold alone judges
    regression: bool
    base_threads: str = ""
    current_threads: str = ""
    paired_threads: str = ""  # the thread count the runs were paired by, where a side holds several (else "")


def _pooled(records: list[dict], name: str):
    values = [v for v in map(READERS[name], records) if v is not None]
    return float(np.median(values)) if values else None


def _samples(records: list[dict]) -> np.ndarray:
    return np.concatenate([np.asarray(latency_samples_ms(r), dtype=float) for r in records])


def _per_image(records: list[dict]) -> dict | None:
    """The first accuracy block of a group that holds per-image outputs, labels and the image listing's digest
    (records made before these were kept have none)."""
    return next((r["accuracy"] for r in records if all((r.get("accuracy") or {}).get(key) is not None
                                                       for key in ("outputs", "labels", "images_sha256"))), None)


def paired_test(metric_name: str, base_records: list[dict], current_records: list[dict]) -> dict | None:
    """McNemar's exact test (accuracy) or a paired bootstrap (AUROC) of the two groups' predictions, when both
    scored the same images in the same order; None otherwise. A group of several runs of one artifact is
    represented by its first run with outputs (the same artifact gives the same outputs)."""
    base, current = _per_image(base_records), _per_image(current_records)
    if base is None or current is None or base["images_sha256"] != current["images_sha256"] \
            or base["labels"] != current["labels"]:
        return None
    labels = np.asarray(base["labels"], dtype=int)
    base_probs, current_probs = np.asarray(base["outputs"], dtype=float), np.asarray(current["outputs"], dtype=float)
    if metric_name == "accuracy":
        return mcnemar_exact(base_probs.argmax(1) == labels, current_probs.argmax(1) == labels)
    return paired_auroc_bootstrap(base_probs, current_probs, labels, tuple(base["classes"]),
                                  tasks=("covid_vs_rest",))["covid_vs_rest"]


PAIRED_METRICS = ("accuracy", "auroc_covid_vs_rest")


def compare_metric(metric: Metric, base_records: list[dict], current_records: list[dict]) -> dict | None:
    if metric.sampled:
        base_samples, current_samples = _samples(base_records), _samples(current_records)
        if base_samples.size == 0 or current_samples.size == 0:
            return None
        base, current = float(np.median(base_samples)), float(np.median(current_samples))
    else:
        base, current = _pooled(base_records, metric.name), _pooled(current_records, metric.name)
        if base is None or current is None:
            return None
    p_value, test = None, ""
    if metric.sampled:
        p_value = float(mannwhitneyu(base_samples, current_samples, alternative="two-sided").pvalue)
        test = "Mann-Whitney U"
    elif metric.name in PAIRED_METRICS:
        paired = paired_test(metric.name, base_records, current_records)
        if paired is not None:
            p_value, test = paired["p_value"], paired["test"]
    return judge(metric, base, current, p_value, test)


def judge(metric: Metric, base: float, current: float, p_value: float | None, test: str) -> dict:
    """A change is better or worse when it is past the metric's threshold and, where a test gave a p-value,
    significant; a worse one is a regression."""
    change = current - base
    limit = metric.threshold * abs(base) if metric.relative else metric.threshold
    if abs(change) > limit and (p_value is None or p_value < ALPHA):
        verdict = "worse" if (change > 0) == metric.smaller_is_better else "better"
    else:
        verdict = "unchanged"
    return {"metric": metric.name, "unit": metric.unit, "base": base, "current": current, "change": change,
            "relative_change": change / base if base else None, "threshold": metric.threshold_text(),
            "p_value": p_value, "verdict": verdict, "test": test, "regression": verdict == "worse"}


def runtime_settings(records: list[dict]) -> dict[str, str]:
    """The runtime configuration of a group of runs: threads in force and runtime version (joined when mixed)."""
    def joined(values):
        return ", ".join(sorted({str(v) for v in values}))

    runtimes = [(r.get("runner") or {}).get("runtime") or {} for r in records]
    return {"threads": joined(threads_in_force(r) for r in records),
            "runtime": joined(f"{rt.get('name', r['artifact']['runtime'])} {rt.get('version') or '?'}"
                              for rt, r in zip(runtimes, records))}


@dataclass
class ConfigurationDifference:
    device: str
    model: str
    format: str
    setting: str
    base: str
    current: str

    def describe(self) -> str:
        return (f"{self.model} {self.format} @ {self.device}: {self.setting} {self.base} (base) vs {self.current} "
                f"(current); CPU and energy per inference not judged")


def _operator_times(records: list[dict]) -> dict[tuple, float]:
    """(name, partition, n-th of that name there) -> median ms per inference, pooled over the records (median)."""
    pooled = defaultdict(list)
    for record in records:
        block = record.get("profile") or {}
        if block.get("status") != "ok":
            continue
        seen = defaultdict(int)
        for row in block["operators"]:
            key = (row["name"], row["partition"])
            seen[key] += 1
            pooled[(*key, seen[key])].append(row["median_ms"])
    return {key: float(np.median(values)) for key, values in pooled.items()}


def operator_changes(metric: Metric, base: list[dict], current: list[dict], floor_ms: float = 0.01) -> list[dict]:
    """Operators matched by name and occurrence whose time changed past the latency threshold (and a floor that keeps
    microsecond jitter out), largest change first."""
    before, after = _operator_times(base), _operator_times(current)
    changes = []
    for key in before.keys() & after.keys():
        change = after[key] - before[key]
        limit = max(metric.threshold * before[key] if metric.relative else metric.threshold, floor_ms)
        if abs(change) > limit:
            changes.append({"operator": key[0], "partition": key[1], "occurrence": key[2], "base_ms": before[key],
                            "current_ms": after[key], "change_ms": change,
                            "relative_change": change / before[key] if before[key] else None,
                            "verdict": "slower" if change > 0 else "faster"})
    return sorted(changes, key=lambda c: abs(c["change_ms"]), reverse=True)


@dataclass
class Comparison:
    rows: list[MetricComparison]
    only_in_base: list[tuple]
    only_in_current: list[tuple]
    configuration_differences: list[ConfigurationDifference]
    operators: dict[tuple, list[dict]] = field(default_factory=dict)  # run key -> operators that changed most

    @property
    def regressions(self) -> list[MetricComparison]:
        return [row for row in self.rows if row.regression]

    def as_dicts(self) -> list[dict]:
        return [asdict(row) for row in self.rows]


def threads_label(record: dict) -> str:
    """The thread count a run asked for, as the part of a pairing key that names it."""
    asked = record["config"].get("threads") or 0
    return f"{asked} thread{'s' * (asked != 1)}" if asked else "default threads"


def pairs_by_threads(*sides: list[dict]) -> bool:
    """Runs pair by thread count where a side holds several for one (device, model, format); otherwise a thread
    difference between base and current is a configuration difference, as any other."""
    for records in sides:
        counts = defaultdict(set)
        for record in records:
            counts[run_key(record)].add(threads_label(record))
        if any(len(labels) > 1 for labels in counts.values()):
            return True
    return False


def _group(records: list[dict], by_model_only: bool, by_threads: bool) -> dict[tuple, list[dict]]:
    groups = defaultdict(list)
    for record in records:
        if record["status"] != "ok":
            continue
        key = ("*", run_key(record)[1], "*") if by_model_only else run_key(record)
        groups[(*key, threads_label(record)) if by_threads else key].append(record)
    return groups


def check_comparable(base: list[dict], current: list[dict]) -> None:
    """Refuse sets made on other devices, formats or record schemas (the caller may allow it)."""
    for what, get in (("device", lambda r: r["config"]["device"]), ("artifact format", lambda r: r["config"]["format"]),
                      ("record schema", lambda r: r.get("migrated_from_schema", r["schema_version"]))):
        left, right = {get(r) for r in base}, {get(r) for r in current}
        if left != right:
            raise RecordError(f"base and current differ in {what} ({', '.join(map(str, sorted(left)))} vs "
                              f"{', '.join(map(str, sorted(right)))}); pass --allow-mismatch to compare anyway")


def compare_records(base: list[dict], current: list[dict], metrics: dict[str, Metric], *,
                    allow_mismatch: bool = False) -> Comparison:
    if not allow_mismatch:
        check_comparable(base, current)
    by_model_only = allow_mismatch and not set(map(run_key, base)) & set(map(run_key, current))
    by_threads = pairs_by_threads(base, current)
    base_groups = _group(base, by_model_only, by_threads)
    current_groups = _group(current, by_model_only, by_threads)
    rows, differences, operators = [], [], {}
    for key in sorted(set(base_groups) & set(current_groups)):
        changed_operators = operator_changes(metrics["latency_median_ms"], base_groups[key], current_groups[key]) \
            if "latency_median_ms" in metrics else []
        if changed_operators:
            operators[key] = changed_operators
        base_settings, current_settings = runtime_settings(base_groups[key]), runtime_settings(current_groups[key])
        changed = [ConfigurationDifference(*key[:3], setting, base_settings[setting], current_settings[setting])
                   for setting in base_settings if base_settings[setting] != current_settings[setting]]
        differences += changed
        for metric in metrics.values():
            result = compare_metric(metric, base_groups[key], current_groups[key])
            if result is None:
                continue
            if changed and metric.name in CONFIGURATION_BOUND:
                result.update(verdict="not judged", regression=False)
            rows.append(MetricComparison(device=key[0], model=key[1], format=key[2], **result,
                                         base_threads=base_settings["threads"],
                                         current_threads=current_settings["threads"],
                                         paired_threads=key[3] if by_threads else ""))
    return Comparison(rows, sorted(set(base_groups) - set(current_groups)),
                      sorted(set(current_groups) - set(base_groups)), differences, operators)
