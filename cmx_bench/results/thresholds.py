"""Regression thresholds per metric: defaults, a TOML file, and --threshold METRIC=VALUE overrides."""

from __future__ import annotations

from cmx_bench.tomlcompat import tomllib
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

    def threshold_text(self) -> str:
        """The threshold in one unit convention for every table: '10 % of base' or '10 MB'."""
        if self.relative:
            return f"{self.threshold * 100:g} % of base"
        return f"{self.threshold:g} {self.unit}"


# Defaults: latency, CPU time and energy move with the machine, so only >10 % (latency: and significant) counts;
# memory by 10 MB; accuracy and AUROC by 1 point. Efficiency is the ratio of two medians (the network's and the
# calibration's, each with the machine's noise), so it is judged at 15 % of base, past what the two noises make. CPU is judged as CPU time per inference: a CPU share rises
# when a runtime uses more threads to finish sooner, which is no regression.
DEFAULT_METRICS = {
    "latency_median_ms": Metric("latency_median_ms", "ms", True, 0.10, True, sampled=True),
    "cpu_ms_per_inference": Metric("cpu_ms_per_inference", "ms", True, 0.10, True),
    "memory_pss_peak_mb": Metric("memory_pss_peak_mb", "MB", True, 10.0, False),
    "energy_per_inference_mj": Metric("energy_per_inference_mj", "mJ", True, 0.10, True),
    "load_ms": Metric("load_ms", "ms", True, 0.25, True),
    "accuracy": Metric("accuracy", "fraction", False, 0.01, False),
    "auroc_covid_vs_rest": Metric("auroc_covid_vs_rest", "AUROC", False, 0.01, False),
    "efficiency": Metric("efficiency", "fraction of peak", False, 0.15, True),
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
