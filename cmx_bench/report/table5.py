"""The Table 5 view: one row per (device, model, format), measured figures beside the paper's, labelled."""

from __future__ import annotations

import pandas as pd


def _get(mapping, *keys):
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def table5_row(record: dict) -> dict:
    stats = record["latency"].get("stats") or {}
    accuracy = record.get("accuracy") or {}
    paper = record.get("paper_reference") or {}
    ci = stats.get("median_ci95_ms") or [None, None]
    return {
        "device": record["config"]["device"],
        "model": record["config"]["model"],
        "format": record["config"]["format"],
        "status": record["status"],
        "weights": record["config"]["weights"]["source"],
        "latency_median_ms": stats.get("median_ms"),
        "latency_ci95_low_ms": ci[0],
        "latency_ci95_high_ms": ci[1],
        "latency_p90_ms": stats.get("p90_ms"),
        "latency_cv": stats.get("cv"),
        "unstable": stats.get("unstable"),
        "load_ms": _get(record, "runner", "load_ms"),
        "cpu_device_pct": record["cpu"].get("cpu_device_pct"),
        "cpu_core_pct": record["cpu"].get("cpu_core_pct"),
        "memory_pss_peak_mb": record["memory"].get("pss_peak_mb"),
        "memory_pss_delta_mb": record["memory"].get("pss_delta_mb"),
        "memory_rss_peak_mb": record["memory"].get("rss_peak_mb"),
        "energy_per_inference_mj": record["energy"].get("energy_per_inference_mj"),
        "energy_class": record["energy"].get("energy_class"),
        "energy_method": record["energy"].get("method"),
        "accuracy": accuracy.get("accuracy"),
        "auroc_covid_vs_rest": _get(accuracy, "auroc", "covid_vs_rest"),
        "parity_argmax_agreement": _get(accuracy, "parity", "argmax_agreement"),
        "paper_cpu_pct": paper.get("cpu_pct"),
        "paper_memory_mb": paper.get("memory_mb"),
        "paper_energy": paper.get("energy"),
        "errors": "; ".join(record.get("errors", [])),
    }


def table5_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([table5_row(r) for r in records])
    return frame.sort_values(["device", "model", "format"], kind="stable").reset_index(drop=True)


# Short headers for the human-facing tables; measured columns first, the paper's marked "(paper)".
DISPLAY_COLUMNS = {
    "device": "Device", "model": "Model", "format": "Format", "weights": "Weights",
    "latency_median_ms": "Latency median (ms)", "latency_cv": "CV", "cpu_device_pct": "CPU % (device)",
    "cpu_core_pct": "CPU % (one core)", "memory_pss_peak_mb": "Memory PSS peak (MB)",
    "energy_per_inference_mj": "Energy / inf (mJ)", "energy_class": "Energy class", "energy_method": "Energy method",
    "accuracy": "Accuracy", "auroc_covid_vs_rest": "AUROC COVID vs rest", "paper_cpu_pct": "CPU % (paper)",
    "paper_memory_mb": "Memory MB (paper)", "paper_energy": "Energy (paper)",
}


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["latency_median_ms"] = [
        None if pd.isna(m) else f"{m:.2f} [{lo:.2f}, {hi:.2f}]" + (" unstable" if u else "")
        for m, lo, hi, u in zip(frame.latency_median_ms, frame.latency_ci95_low_ms, frame.latency_ci95_high_ms,
                                frame.unstable)]
    columns = [c for c in DISPLAY_COLUMNS if c in shown and (c not in ("accuracy", "auroc_covid_vs_rest")
                                                                or shown[c].notna().any())]
    return shown[columns].rename(columns=DISPLAY_COLUMNS)


TERMINAL_COLUMNS = {
    "model": "Model", "format": "Fmt", "latency_median_ms": "ms", "cpu_device_pct": "CPU%", "cpu_core_pct": "CPU%1c",
    "memory_pss_peak_mb": "PSS MB", "energy_per_inference_mj": "mJ/inf", "energy_class": "Energy",
    "accuracy": "Acc", "auroc_covid_vs_rest": "AUROC", "paper": "Paper CPU%/MB/Energy",
}


def terminal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A narrow view for an 80-column terminal; the report files hold every column."""
    shown = frame.copy()
    shown["latency_median_ms"] = [None if pd.isna(m) else f"{m:.2f}" + ("!" if u else "")
                                  for m, u in zip(frame.latency_median_ms, frame.unstable)]
    shown["paper"] = [None if pd.isna(c) else f"{c:g}/{m:g}/{e}"
                      for c, m, e in zip(frame.paper_cpu_pct, frame.paper_memory_mb, frame.paper_energy)]
    if frame.device.nunique() > 1:
        shown["model"] = frame.device + " " + frame.model
    columns = [c for c in TERMINAL_COLUMNS if c in shown and (c not in ("accuracy", "auroc_covid_vs_rest", "paper")
                                                                 or shown[c].notna().any())]
    return shown[columns].rename(columns=TERMINAL_COLUMNS)


def format_cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


WIDE_MEASURES = {
    "cpu_device_pct": "CPU %", "memory_pss_peak_mb": "Memory MB", "energy_class": "Energy",
    "energy_per_inference_mj": "mJ/inf", "latency_median_ms": "Latency ms", "accuracy": "Accuracy",
    "auroc_covid_vs_rest": "AUROC", "paper_cpu_pct": "CPU % (paper)", "paper_memory_mb": "Memory MB (paper)",
    "paper_energy": "Energy (paper)",
}


def table5_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: student networks as rows, devices across, measured and paper columns per device."""
    rows = []
    for (model, fmt), group in frame.groupby(["model", "format"], sort=True):
        row = {"Model": model, "Format": fmt}
        for _, run in group.iterrows():
            for column, title in WIDE_MEASURES.items():
                if column in ("accuracy", "auroc_covid_vs_rest") and not frame[column].notna().any():
                    continue
                if column.startswith("paper_") and not frame[frame.device == run.device][column].notna().any():
                    continue
                row[f"{run.device} {title}"] = run[column]
        rows.append(row)
    return pd.DataFrame(rows)
