"""Report figures as PNG bytes: latency distributions, CPU / memory over time, accuracy vs latency, energy."""

from __future__ import annotations

import matplotlib.pyplot as plt

from cmx_bench.pngfig import figure_png  # selects the headless Agg backend
from cmx_bench.report.table5 import run_label
from cmx_bench.results.metrics import (accuracy, energy_method, energy_per_inference_mj, latency_median_ms,
                                       latency_samples_ms)


def _label(record: dict, with_run: bool = False) -> str:
    config = record["config"]
    run = f" [{run_label(record)}]" if with_run else ""
    threads = f" x{config['threads']}" if config.get("threads") else ""
    return f"{config['model']}\n{config['format']}{threads} @ {config['device']}{run}"


def _several_runs(records: list[dict]) -> bool:
    return len({r["run_id"] for r in records}) > 1


def latency_distributions(records: list[dict]) -> bytes | None:
    runs = [r for r in records if latency_samples_ms(r)]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(max(5, 1.8 * len(runs)), 4))
    axis.violinplot([latency_samples_ms(r) for r in runs], showmedians=True)
    axis.set_xticks(range(1, len(runs) + 1), [_label(r, _several_runs(runs)) for r in runs], fontsize=8)
    axis.set_ylabel("latency per inference (ms)")
    axis.set_title("Latency distribution (all measured iterations)")
    axis.grid(axis="y", alpha=0.3)
    return figure_png(figure)


def _until_exit(record: dict) -> tuple[list[float], list[float], list[float]]:
    """Seconds since start, CPU % of one core and RSS, cut at the runner's end (a dead process reads as 0 MB)."""
    series = record["timeseries"]
    end = (record["runner"].get("phases") or {}).get("end", float("inf"))
    kept = [i for i, (t, rss) in enumerate(zip(series["t"], series["rss_mb"])) if t <= end and rss]
    t0 = series["t"][0]
    times = [series["t"][i] - t0 for i in kept]
    cpu = [0.0] + [100 * (series["cpu_s"][j] - series["cpu_s"][i]) / (series["t"][j] - series["t"][i])
                   if series["t"][j] > series["t"][i] else 0.0 for i, j in zip(kept, kept[1:])]
    return times, cpu[:len(kept)], [series["rss_mb"][i] for i in kept]


def resource_timeseries(records: list[dict]) -> bytes | None:
    """Small multiples: one row per run (CPU left, RSS right), so that many runs stay readable."""
    runs = [r for r in records if len(r["timeseries"].get("t", [])) >= 2]
    if not runs:
        return None
    several = _several_runs(runs)
    figure, axes = plt.subplots(len(runs), 2, figsize=(9, 1.9 * len(runs) + 0.8), sharex=True, squeeze=False)
    for (cpu_axis, mem_axis), record in zip(axes, runs):
        times, cpu, rss = _until_exit(record)
        cpu_axis.plot(times, cpu, color="C0", linewidth=1)
        mem_axis.plot(times, rss, color="C1", linewidth=1)
        phases = record["runner"].get("phases") or {}
        if "measure_start" in phases:
            t0 = record["timeseries"]["t"][0]
            for axis in (cpu_axis, mem_axis):
                axis.axvspan(phases["measure_start"] - t0, phases["measure_end"] - t0, color="C2", alpha=0.12)
        cpu_axis.set_title(_label(record, several).replace("\n", " "), fontsize=8, loc="left")
        cpu_axis.set_ylabel("CPU % (1 core)", fontsize=8)
        mem_axis.set_ylabel("RSS (MB)", fontsize=8)
        for axis in (cpu_axis, mem_axis):
            axis.grid(alpha=0.3)
            axis.tick_params(labelsize=7)
    for axis in axes[-1]:
        axis.set_xlabel("seconds since runner start", fontsize=8)
    figure.suptitle("CPU and memory over time, one row per run (green: measured phase; lines end when the runner exits)",
                    fontsize=9)
    return figure_png(figure)


def latency_by_model_and_device(records: list[dict]) -> bytes | None:
    """Box plot of raw latency samples: one group per model, one box per device."""
    runs = [r for r in records if latency_samples_ms(r)]
    if not runs:
        return None
    models = sorted({r["config"]["model"] for r in runs})
    devices = sorted({r["config"]["device"] for r in runs})
    figure, axis = plt.subplots(figsize=(max(6, 2.2 * len(models)), 4))
    width = 0.8 / len(devices)
    for d_index, device in enumerate(devices):
        data, positions = [], []
        for m_index, model in enumerate(models):
            samples = [s for r in runs if r["config"]["model"] == model and r["config"]["device"] == device
                       for s in latency_samples_ms(r)]
            if samples:
                data.append(samples)
                positions.append(m_index + (d_index - (len(devices) - 1) / 2) * width)
        if data:
            boxes = axis.boxplot(data, positions=positions, widths=width * 0.9, patch_artist=True, showfliers=False)
            for patch in boxes["boxes"]:
                patch.set_facecolor(f"C{d_index}")
            axis.plot([], [], color=f"C{d_index}", linewidth=8, label=device)
    axis.set_xticks(range(len(models)), models)
    axis.set_ylabel("latency per inference (ms)")
    axis.set_title("Latency per model and device")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="device")  # outside the data
    axis.grid(axis="y", alpha=0.3)
    return figure_png(figure)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower latency, higher accuracy)."""
    front = []
    for i, (lat_i, acc_i) in enumerate(points):
        dominated = any((lat_j <= lat_i and acc_j >= acc_i) and (lat_j < lat_i or acc_j > acc_i)
                        for j, (lat_j, acc_j) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def accuracy_vs_latency(records: list[dict]) -> bytes | None:
    runs = [r for r in records if accuracy(r) is not None and latency_median_ms(r) is not None]
    if not runs:
        return None
    points = [(latency_median_ms(r), accuracy(r)) for r in runs]
    front = pareto_front(points)
    figure, axis = plt.subplots(figsize=(6, 4))
    for index, (record, point) in enumerate(zip(runs, points)):
        axis.scatter(*point, color="C3" if index in front else "C0", zorder=3)
        axis.annotate(_label(record, _several_runs(runs)).replace("\n", " "), point, fontsize=7, xytext=(4, 4),
                      textcoords="offset points")
    ordered = sorted(points[i] for i in front)
    axis.plot([p[0] for p in ordered], [p[1] for p in ordered], color="C3", linestyle="--", label="Pareto front")
    axis.set_xlabel("median latency (ms)")
    axis.set_ylabel("accuracy")
    axis.set_title("Accuracy versus latency")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return figure_png(figure)


def energy_per_inference(records: list[dict]) -> bytes | None:
    runs = [r for r in records if energy_per_inference_mj(r) is not None]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(max(5, 1.4 * len(runs)), 4))
    values = [energy_per_inference_mj(r) for r in runs]
    axis.bar(range(len(runs)), values, color=[f"C{i % 10}" for i in range(len(runs))])
    axis.set_xticks(range(len(runs)), [_label(r, _several_runs(runs)) for r in runs], fontsize=7)
    axis.set_ylabel("energy per inference (mJ)")
    methods = sorted({energy_method(r) or "unknown" for r in runs})
    axis.set_title(f"Energy per inference (method: {', '.join(methods)})")
    axis.grid(axis="y", alpha=0.3)
    return figure_png(figure)


def sustained_over_time(records: list[dict]) -> bytes | None:
    """Sustained runs, one row each: latency per second (left axis) and temperature (right axis), with the moment
    throttling began, so that the throttled steady state and its cause are seen together."""
    runs = [r for r in records if (r.get("sustained") or {}).get("latency_per_second", {}).get("t_s")]
    if not runs:
        return None
    figure, axes = plt.subplots(len(runs), 1, figsize=(9, 2.4 * len(runs) + 0.8), squeeze=False)
    for (axis,), record in zip(axes, runs):
        block = record["sustained"]
        per_second, readings = block["latency_per_second"], block["readings"]
        axis.plot(per_second["t_s"], per_second["median_ms"], color="C0", linewidth=1.2, label="median latency")
        axis.set_ylabel("ms (median per s)", fontsize=8, color="C0")
        temperatures = [(t, c) for t, c in zip(readings.get("t_s", []), readings.get("temperature_c", []))
                        if c is not None and 0 <= t <= block["window_s"]]
        if temperatures:
            twin = axis.twinx()
            twin.plot(*zip(*temperatures), color="C3", linewidth=1, label="temperature")
            twin.set_ylabel("temperature (C)", fontsize=8, color="C3")
            twin.tick_params(labelsize=7)
        if block.get("throttling_began_s") is not None:
            axis.axvline(block["throttling_began_s"], color="C1", linestyle="--", linewidth=1)
        slowdown = block.get("slowdown")
        axis.set_title(f"{_label(record).replace(chr(10), ' ')}: slowdown "
                       f"{'-' if slowdown is None else f'{slowdown:.2f}x'}; {block['throttling']}"
                       + ("" if temperatures else "; no temperature readable"), fontsize=8, loc="left")
        axis.grid(alpha=0.3)
        axis.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("seconds of sustained inference", fontsize=8)
    figure.suptitle("Sustained runs: latency and temperature over time (dashed: throttling began)", fontsize=9)
    return figure_png(figure)
