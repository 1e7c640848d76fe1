"""The Table 5 view: one row per (device, model, format), measured figures beside the paper's, labelled."""

from __future__ import annotations

import pandas as pd

from cmx_bench.report.provenance import weights_origin
from cmx_bench.results.metrics import record_figures


def run_label(record: dict) -> str:
    """The run column: the --label given at `run`, else the run id's random suffix (unique, short)."""
    return record["config"].get("label") or record["run_id"].rsplit("-", 1)[-1]


def _is_phone(record: dict) -> bool:
    return record["device"].get("kind") == "android"


def table5_row(record: dict) -> dict:
    figures = record_figures(record)
    paper = record.get("paper_reference") or {}
    latency_ci = figures.latency_median_ci95_ms or (None, None)
    accuracy_ci = figures.accuracy_ci95 or (None, None)
    return {
        "run": run_label(record),
        "device": record["config"]["device"],
        "model": record["config"]["model"],
        "format": record["config"]["format"],
        "threads": figures.threads_in_force,
        "status": record["status"],
        "weights": weights_origin(record),
        "latency_median_ms": figures.latency_median_ms,
        "latency_ci95_low_ms": latency_ci[0],
        "latency_ci95_high_ms": latency_ci[1],
        "latency_p90_ms": figures.latency_p90_ms,
        "latency_cv": figures.latency_cv,
        # The unstable flag is judged on the robust CV (and the median's CI); this is the column shown.
        "latency_robust_cv": figures.latency_robust_cv,
        "unstable": figures.latency_unstable,
        # Against the device's own peak at the run's precision and threads (a .pte run's calibration).
        "efficiency": figures.efficiency,
        "x_floor": figures.x_floor,
        "latency_floor_ms": figures.latency_floor_ms,
        "peak_macs_per_s": figures.peak_macs_per_s,
        "load_ms": figures.load_ms,
        "warm_load_ms": figures.warm_load_ms,
        "first_inference_ms": figures.first_inference_ms,
        "threads_worked": figures.threads_worked,
        "big_core_share": figures.big_core_share,
        "clock_fraction": figures.clock_fraction,
        "sustained_slowdown": figures.sustained_slowdown,
        "throttling_began_s": figures.throttling_began_s,
        "artifact_size_mb": figures.artifact_size_mb,
        "cpu_device_pct": figures.cpu_device_pct,
        "cpu_core_pct": figures.cpu_core_pct,
        "cpu_ms_per_inference": figures.cpu_ms_per_inference,
        "memory_model_mb": figures.memory_model_mb,
        # The app's whole PSS is what the paper's phones report; on a host it is Python + torch, so not shown.
        "memory_app_pss_mb": figures.memory_pss_peak_mb if _is_phone(record) else None,
        "memory_pss_peak_mb": figures.memory_pss_peak_mb,
        "memory_rss_peak_mb": figures.memory_rss_peak_mb,
        "energy_per_inference_mj": figures.energy_per_inference_mj,
        "energy_class": figures.energy_class,
        "energy_method": figures.energy_method,
        "accuracy": figures.accuracy,
        "accuracy_ci95_low": accuracy_ci[0],
        "accuracy_ci95_high": accuracy_ci[1],
        "auroc_covid_vs_rest": figures.auroc_covid_vs_rest,
        "parity_argmax_agreement": figures.parity_argmax_agreement,
        "paper_cpu_pct": paper.get("cpu_pct"),
        "paper_memory_mb": paper.get("memory_mb"),
        "paper_energy": paper.get("energy"),
        "errors": "; ".join(record.get("errors", [])),
    }


def table5_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([table5_row(r) for r in records])
    return frame.sort_values(["device", "model", "format", "run"], kind="stable").reset_index(drop=True)


# Headers for the report tables; each paper column sits right after the measured column it compares with.
DISPLAY_COLUMNS = {
    "run": "Run", "device": "Device", "model": "Model", "format": "Format", "threads": "Threads",
    "weights": "Weights", "latency_median_ms": "Latency median (ms) [95% CI]", "efficiency": "Efficiency",
    "x_floor": "x floor", "latency_robust_cv": "Robust CV",
    "load_ms": "Load (ms)", "warm_load_ms": "Warm load (ms)", "first_inference_ms": "First inference (ms)",
    "threads_worked": "Threads that worked", "big_core_share": "Big-core share", "clock_fraction": "Clock % of max",
    "sustained_slowdown": "Sustained slowdown", "throttling_began_s": "Throttling began (s)",
    "artifact_size_mb": "Artifact (MB)", "cpu_device_pct": "CPU % (device)",
    "paper_cpu_pct": "CPU % (paper)", "cpu_core_pct": "CPU % (one core)", "cpu_ms_per_inference": "CPU ms / inf",
    "memory_model_mb": "Model memory (MB)", "memory_app_pss_mb": "App PSS (MB)", "paper_memory_mb": "Memory MB (paper)",
    "energy_per_inference_mj": "Energy / inf (mJ)", "energy_method": "Energy method", "energy_class": "Energy class",
    "paper_energy": "Energy (paper)", "accuracy": "Accuracy [95% CI]", "auroc_covid_vs_rest": "AUROC COVID vs rest",
}

# Columns shown only when some run has a value (accuracy needs --data; app PSS and paper values need a phone).
OPTIONAL_COLUMNS = ("accuracy", "auroc_covid_vs_rest", "memory_app_pss_mb", "paper_cpu_pct", "paper_memory_mb",
                    "paper_energy", "paper", "energy_class", "sustained_slowdown", "throttling_began_s", "warm_ms",
                    "big_pct", "clock_pct", "efficiency", "x_floor", "eff_pct")


def _present(frame: pd.DataFrame, column: str) -> bool:
    if column == "run":
        return frame.run.nunique() > 1
    return column in frame and (column not in OPTIONAL_COLUMNS or frame[column].notna().any())


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["latency_median_ms"] = [
        None if pd.isna(m) else f"{m:.2f} [{lo:.2f}, {hi:.2f}]" + (" unstable" if u else "")
        for m, lo, hi, u in zip(frame.latency_median_ms, frame.latency_ci95_low_ms, frame.latency_ci95_high_ms,
                                frame.unstable)]
    shown["efficiency"] = [None if pd.isna(e) else f"{100 * e:.0f} %" for e in frame.efficiency]
    if "accuracy" in frame:
        shown["accuracy"] = [
            None if pd.isna(a) else f"{a:.3f}" + ("" if pd.isna(lo) else f" [{lo:.3f}, {hi:.3f}]")
            for a, lo, hi in zip(frame.accuracy, frame.accuracy_ci95_low, frame.accuracy_ci95_high)]
    columns = [c for c in DISPLAY_COLUMNS if _present(shown, c)]
    return shown[columns].rename(columns=DISPLAY_COLUMNS)


TERMINAL_COLUMNS = {
    "run": "Run", "model": "Model", "format": "Fmt", "threads": "Thr", "latency_median_ms": "ms",
    "eff_pct": "Eff%", "x_floor": "x floor", "latency_robust_cv": "rCV", "load_ms": "Load ms", "warm_ms": "Warm ms", "big_pct": "Big%", "clock_pct": "Clk%",
    "sustained_slowdown": "Slow x", "artifact_size_mb": "Size MB", "cpu_device_pct": "CPU%", "cpu_ms_per_inference": "CPU ms/inf",
    "memory_model_mb": "Model MB", "memory_app_pss_mb": "App MB", "energy_per_inference_mj": "mJ/inf",
    "energy_class": "Energy", "accuracy": "Acc", "auroc_covid_vs_rest": "AUROC", "paper": "Paper CPU%/MB/Energy",
}
# When the terminal is too narrow, these go first (least important first); the report files keep every column.
TERMINAL_DROP_ORDER = ("Paper CPU%/MB/Energy", "CPU ms/inf", "rCV", "Energy", "CPU%", "App MB", "mJ/inf", "Warm ms",
                       "Load ms", "x floor", "Size MB", "Clk%", "Big%", "Eff%", "Fmt")


def terminal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A compact view for the terminal (render it with a width-fitting table); the report files hold every column."""
    shown = frame.copy()
    shown["latency_median_ms"] = [None if pd.isna(m) else f"{m:.2f}" + ("!" if u else "")
                                  for m, u in zip(frame.latency_median_ms, frame.unstable)]
    shown["paper"] = [None if pd.isna(c) else f"{c:g}/{m:g}/{e}"
                      for c, m, e in zip(frame.paper_cpu_pct, frame.paper_memory_mb, frame.paper_energy)]
    shown["warm_ms"] = frame.warm_load_ms
    # Percentages read faster than fractions in a narrow table.
    shown["big_pct"] = [None if pd.isna(v) else round(100 * v) for v in frame.big_core_share]
    shown["clock_pct"] = [None if pd.isna(v) else round(100 * v) for v in frame.clock_fraction]
    # Whole percent as text: a number column with gaps would print as 71.0.
    shown["eff_pct"] = [None if pd.isna(v) else f"{100 * v:.0f}" for v in frame.efficiency]
    if frame.device.nunique() > 1:
        shown["model"] = frame.device + " " + frame.model
    columns = [c for c in TERMINAL_COLUMNS if _present(shown, c)]
    return shown[columns].rename(columns=TERMINAL_COLUMNS)


def format_cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


WIDE_MEASURES = {
    "latency_median_ms": "Latency ms", "efficiency": "Efficiency", "x_floor": "x floor", "cpu_device_pct": "CPU %", "paper_cpu_pct": "CPU % (paper)",
    "memory_model_mb": "Model memory MB", "memory_app_pss_mb": "App PSS MB", "paper_memory_mb": "Memory MB (paper)",
    "load_ms": "Load ms", "energy_per_inference_mj": "mJ/inf", "energy_method": "Energy method",
    "energy_class": "Energy", "paper_energy": "Energy (paper)", "accuracy": "Accuracy", "auroc_covid_vs_rest": "AUROC",
}


def table5_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: student networks as rows, devices across, measured and paper columns per device."""
    several_runs = frame.duplicated(["device", "model", "format"]).any()
    keys = ["model", "format", "run"] if several_runs else ["model", "format"]
    rows = []
    for key, group in frame.groupby(keys, sort=True):
        row = dict(zip([k.capitalize() for k in keys], key))
        row["Size MB"] = group.artifact_size_mb.iloc[0]
        for _, run in group.iterrows():
            on_device = frame[frame.device == run.device]
            for column, title in WIDE_MEASURES.items():
                if column in OPTIONAL_COLUMNS and not on_device[column].notna().any():
                    continue
                row[f"{run.device} {title}"] = run[column]
        rows.append(row)
    return pd.DataFrame(rows)
