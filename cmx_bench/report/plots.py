"""Report figures as PNG bytes: latency distributions and CPU / memory over time."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _label(record: dict) -> str:
    config = record["config"]
    return f"{config['model']}\n{config['format']} @ {config['device']}"


def latency_distributions(records: list[dict]) -> bytes | None:
    runs = [r for r in records if r["latency"]["samples_ms"]]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(max(5, 1.8 * len(runs)), 4))
    axis.violinplot([r["latency"]["samples_ms"] for r in runs], showmedians=True)
    axis.set_xticks(range(1, len(runs) + 1), [_label(r) for r in runs], fontsize=8)
    axis.set_ylabel("latency per inference (ms)")
    axis.set_title("Latency distribution (all measured iterations)")
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def resource_timeseries(records: list[dict]) -> bytes | None:
    runs = [r for r in records if len(r["timeseries"].get("t", [])) >= 2]
    if not runs:
        return None
    figure, (cpu_axis, mem_axis) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for record in runs:
        series = record["timeseries"]
        t0 = series["t"][0]
        times = [t - t0 for t in series["t"]]
        cpu = [0.0] + [100 * (c1 - c0) / (t1 - t0_) if t1 > t0_ else 0.0
                       for c0, c1, t0_, t1 in zip(series["cpu_s"], series["cpu_s"][1:], series["t"], series["t"][1:])]
        label = _label(record).replace("\n", " ")
        cpu_axis.plot(times, cpu, label=label, linewidth=1)
        mem_axis.plot(times, series["rss_mb"], label=label, linewidth=1)
        phases = record["runner"].get("phases") or {}
        if "measure_start" in phases:
            cpu_axis.axvspan(phases["measure_start"] - t0, phases["measure_end"] - t0, alpha=0.08)
    cpu_axis.set_ylabel("CPU % of one core")
    cpu_axis.set_title("CPU and memory over time (shaded: measured phase)")
    mem_axis.set_ylabel("RSS (MB)")
    mem_axis.set_xlabel("seconds since runner start")
    cpu_axis.legend(fontsize=7)
    for axis in (cpu_axis, mem_axis):
        axis.grid(alpha=0.3)
    return _png(figure)
