"""Cut a sampler time series to the runner's phases and derive CPU, memory and energy figures."""

from __future__ import annotations

import numpy as np


def _at(series: dict, column: str, when: float) -> float:
    """A cumulative counter linearly interpolated at time `when`."""
    return float(np.interp(when, series["t"], series[column]))


def _values_between(series: dict, column: str, start: float, end: float) -> list[float]:
    return [v for t, v in zip(series["t"], series[column]) if start <= t <= end and v is not None]


def cpu_figures(series: dict, start: float, end: float, ncpu: int) -> dict:
    """CPU use in [start, end]: share of the whole device (0-100) and share of one core (0-ncpu*100)."""
    wall = end - start
    proc = _at(series, "cpu_s", end) - _at(series, "cpu_s", start)
    machine = _at(series, "system_cpu_s", end) - _at(series, "system_cpu_s", start)
    return {
        "cpu_device_pct": 100.0 * proc / machine if machine > 0 else None,
        "cpu_core_pct": 100.0 * proc / wall if wall > 0 else None,
        "cpu_seconds": proc,
        "ncpu": ncpu,
        "window_s": wall,
        "samples_in_window": len(_values_between(series, "cpu_s", start, end)),
    }


def memory_figures(series: dict, baseline_before: float, start: float, end: float) -> dict:
    """Peaks during [start, end] and their rise over the last sample before `baseline_before`."""
    def last_before(column):
        values = [v for t, v in zip(series["t"], series[column]) if t <= baseline_before and v is not None]
        return values[-1] if values else None

    def peak(column):
        values = _values_between(series, column, start, end)
        if not values:  # slow columns (PSS) may have no reading inside a short window: take the latest one
            values = [v for t, v in zip(series["t"], series[column]) if t <= end and v is not None][-1:]
        return max(values) if values else None

    out = {}
    for column in ("rss_mb", "pss_mb", "uss_mb"):
        base, top = last_before(column), peak(column)
        name = column[:-3]
        out[f"{name}_baseline_mb"], out[f"{name}_peak_mb"] = base, top
        out[f"{name}_delta_mb"] = top - base if base is not None and top is not None else None
    return out
