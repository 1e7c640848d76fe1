"""Regression thresholds per metric: defaults, a TOML file, and --threshold METRIC=VALUE overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from cmx_bench.errors import CmxError


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    smaller_is_better: bool
    threshold: float
    relative: bool  # threshold is a fraction of the base value, else in the metric's unit
    sampled: bool = False  # has raw samples: regressions also need statistical significance


# Defaults: latency and energy move with the machine, so only >10 % (and significant) counts;
# memory by 10 MB; CPU share by 5 points; accuracy and AUROC by 1 point.
DEFAULT_METRICS = {
    "latency_median_ms": Metric("latency_median_ms", "ms", True, 0.10, True, sampled=True),
    "cpu_device_pct": Metric("cpu_device_pct", "%", True, 5.0, False),
    "memory_pss_peak_mb": Metric("memory_pss_peak_mb", "MB", True, 10.0, False),
    "energy_per_inference_mj": Metric("energy_per_inference_mj", "mJ", True, 0.10, True),
    "load_ms": Metric("load_ms", "ms", True, 0.25, True),
    "accuracy": Metric("accuracy", "fraction", False, 0.01, False),
    "auroc_covid_vs_rest": Metric("auroc_covid_vs_rest", "AUROC", False, 0.01, False),
}


def _parse_value(metric: str, value) -> tuple[float, bool]:
    text = str(value).strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0, True
        return float(text), False
    except ValueError as exc:
        raise CmxError(f"threshold for {metric} is '{value}'; write a number in the metric's unit or a percentage "
                       "such as 10%") from exc


def _override(metrics: dict, metric: str, value) -> None:
    if metric not in metrics:
        raise CmxError(f"unknown metric '{metric}' in thresholds; choose one of: {', '.join(metrics)}")
    threshold, relative = _parse_value(metric, value)
    base = metrics[metric]
    metrics[metric] = Metric(base.name, base.unit, base.smaller_is_better, threshold, relative, base.sampled)


def load_thresholds(toml_file: Path | None = None, overrides: list[str] = ()) -> dict[str, Metric]:
    """Defaults, then the file's [thresholds] table, then METRIC=VALUE overrides."""
    metrics = dict(DEFAULT_METRICS)
    if toml_file is not None:
        try:
            table = tomllib.loads(Path(toml_file).read_text()).get("thresholds", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CmxError(f"thresholds file {toml_file} cannot be read ({exc}); fix it or leave it out") from exc
        for metric, value in table.items():
            _override(metrics, metric, value)
    for item in overrides:
        metric, sep, value = item.partition("=")
        if not sep:
            raise CmxError(f"--threshold {item} is not METRIC=VALUE (for example latency_median_ms=5%)")
        _override(metrics, metric.strip(), value)
    return metrics
