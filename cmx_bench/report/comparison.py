"""Render a comparison (plain dict rows from results.compare): Markdown for CI summaries, github-action-benchmark JSON."""

from __future__ import annotations

import pandas as pd

from cmx_bench.report.writers import markdown_table

VERDICT_MARK = {"worse": "worse (regression)", "better": "better", "unchanged": "unchanged",
                "not judged": "not judged (config)"}
# Short metric names for the terminal, where every column counts.
METRIC_SHORT = {"latency_median_ms": "latency ms", "cpu_ms_per_inference": "CPU ms/inf", "memory_pss_peak_mb": "PSS MB",
                "energy_per_inference_mj": "energy mJ/inf", "load_ms": "load ms", "accuracy": "accuracy",
                "auroc_covid_vs_rest": "AUROC"}
TERMINAL_DROP_ORDER = ("Threshold", "p", "Threads", "Format", "Device", "Change")


def comparison_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["device", "model", "format", "metric", "unit", "base", "current", "change",
                                        "relative_change", "threshold", "p_value", "test", "verdict", "regression",
                                        "base_threads", "current_threads"])
    frame["relative_change"] = [None if pd.isna(v) else f"{v:+.1%}" for v in frame["relative_change"]]
    frame["p_value"] = [None if pd.isna(v) else f"{v:.3g}" for v in frame["p_value"]]
    frame["verdict"] = [VERDICT_MARK[v] for v in frame["verdict"]]
    frame["threads"] = [b if b == c else f"{b} -> {c}" for b, c in zip(frame.base_threads, frame.current_threads)]
    return frame.drop(columns=["regression", "base_threads", "current_threads"])


def terminal_comparison_frame(rows: list[dict]) -> pd.DataFrame:
    """The comparison for the terminal: short metric names, capitalised headers, widest-first drop order."""
    frame = comparison_frame(rows)
    frame["metric"] = [METRIC_SHORT.get(m, m) for m in frame.metric]
    frame = frame[["device", "model", "format", "threads", "metric", "base", "current", "relative_change", "p_value",
                   "threshold", "verdict"]]
    return frame.rename(columns={"device": "Device", "model": "Model", "format": "Format", "threads": "Threads",
                                 "metric": "Metric", "base": "Base", "current": "Current", "relative_change": "Change",
                                 "p_value": "p", "threshold": "Threshold", "verdict": "Verdict"})


def operator_frame(changes: list[dict], count: int = 10) -> pd.DataFrame:
    """The operators whose time changed most, for the terminal and the Markdown summary."""
    return pd.DataFrame([{"Operator": c["operator"], "Partition": "-" if c["partition"] is None else str(c["partition"]),
                          "Base ms": c["base_ms"], "Current ms": c["current_ms"],
                          "Change": f"{c['relative_change']:+.0%}" if c["relative_change"] is not None else None,
                          "Verdict": c["verdict"]} for c in changes[:count]])


def comparison_markdown(rows: list[dict], only_in_base: list, only_in_current: list,
                        configuration_differences: list[str] = (), operators: dict | None = None) -> str:
    regressions = [r for r in rows if r["regression"]]
    lines = ["## cmx-bench comparison", "",
             f"**{len(regressions)} regression(s)** over {len(rows)} metric comparisons." if regressions
             else f"No regression over {len(rows)} metric comparisons.", ""]
    if rows:
        lines += [markdown_table(comparison_frame(rows)), ""]
    for title, keys in (("Only in base", only_in_base), ("Only in current", only_in_current)):
        if keys:
            lines += [f"{title}: " + ", ".join(" / ".join(k) for k in keys), ""]
    for key, changes in (operators or {}).items():
        lines += [f"Operators whose time changed most: {' / '.join(key)}", "", markdown_table(operator_frame(changes)), ""]
    if configuration_differences:
        lines += ["Configuration differences (not regressions):", ""]
        lines += [f"- {text}" for text in configuration_differences] + [""]
    lines.append("A regression is a change past its threshold in the worse direction that is also statistically "
                 "significant (p < 0.05) where a test applies: latency's raw samples (Mann-Whitney U), and the "
                 "accuracy and AUROC of runs that scored the same images (McNemar's exact test, a paired bootstrap). "
                 "CPU is judged as CPU time per inference; where threads or the runtime differ, CPU and energy per "
                 "inference are shown but not judged.")
    return "\n".join(lines) + "\n"


def github_action_benchmark(rows: list[dict]) -> list[dict]:
    """Current values in github-action-benchmark's `customSmallerIsBetter` format."""
    entries = []
    for row in rows:
        bigger_is_better = row["metric"] in ("accuracy", "auroc_covid_vs_rest", "efficiency")
        threads = f" ({row['paired_threads']})" if row.get("paired_threads") else ""  # one series per thread count
        name = f"{row['model']} {row['format']}{threads} @ {row['device']}: {row['metric']}"
        value = row["current"]
        if bigger_is_better:  # the format knows only smaller-is-better: report the shortfall from 1
            name, value = name + " shortfall (1 - value)", 1.0 - value
        entries.append({"name": name, "unit": row["unit"], "value": round(value, 6),
                        "extra": f"base {row['base']:.6g}, verdict {row['verdict']}"})
    return entries


def evaluation_comparison_frame(rows: list[dict]) -> pd.DataFrame:
    """Two evaluations of the same images, per set and metric (rows from results.evaluation_compare)."""
    return pd.DataFrame([{"Set": r["set"], "Images": r["images"], "Metric": METRIC_SHORT.get(r["metric"], r["metric"]),
                          "Base": r["base"], "Current": r["current"], "Change": f"{r['change']:+.3f}",
                          "Test": r["test"], "p": f"{r['p_value']:.3g}", "Threshold": r["threshold"],
                          "Verdict": VERDICT_MARK[r["verdict"]], "Paired images": r["detail"]} for r in rows])


def evaluation_comparison_markdown(rows: list[dict], unpaired: list[str], base: str, current: str) -> str:
    regressions = sum(r["regression"] for r in rows)
    return "\n".join(["## cmx-bench comparison of two evaluations", "", f"Base: `{base}`; current: `{current}`.", "",
                      f"**{regressions} regression(s)** over {len(rows)} metric comparisons." if regressions
                      else f"No regression over {len(rows)} metric comparisons.", "",
                      markdown_table(evaluation_comparison_frame(rows)), "",
                      *[f"Not compared: {reason}" for reason in unpaired], *([""] if unpaired else []),
                      "Both evaluations scored the same images, so each change is tested on the images themselves: "
                      "McNemar's exact test for accuracy (only images that one side gets right and the other wrong "
                      "count), a paired class-stratified bootstrap for the AUROC. A regression is a drop past its "
                      "threshold with p < 0.05."]) + "\n"
