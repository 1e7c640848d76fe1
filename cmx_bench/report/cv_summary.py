"""A cross-validation's summary: per fold and pooled, accuracy, per-class recall, the three AUROCs (bootstrap
intervals over the pooled predictions), per-source accuracy, and mean and spread over folds; as summary.json,
summary.md and summary.html with the pooled ROC."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmx_bench.evaluate.figures import roc_figure
from cmx_bench.evaluate.metrics import AUROC_TASKS, classification_metrics
from cmx_bench.fileio import write_bytes_atomic, write_json_atomic, write_text_atomic
from cmx_bench.report.writers import html_table, markdown_table
from cmx_bench.train.folds import FOLDS_FILE, PooledSet, read_pooled_predictions

TASK_NAMES = {"covid_vs_normal": "vs normal", "covid_vs_pneumonia": "vs pneumonia", "covid_vs_rest": "vs rest"}


def _per_source(scored: PooledSet, mask: np.ndarray) -> dict:
    correct = scored.probs.argmax(1) == scored.labels
    sources = np.array(scored.sources)
    return {source: {"accuracy": float(correct[mask & (sources == source)].mean()),
                     "images": int((mask & (sources == source)).sum())}
            for source in sorted(set(sources[mask])) if source}


def _figures_of(metrics: dict, classes) -> dict:
    """The figures averaged over folds, by name: accuracy, recall of each class, each AUROC task."""
    return {"accuracy": metrics["accuracy"], **{f"recall_{c}": metrics["per_class_recall"][c] for c in classes},
            **{f"auroc_{task}": metrics["auroc"][task] for task in AUROC_TASKS}}


def _spread(per_fold: list[dict], classes) -> dict:
    """Mean and sample standard deviation over the folds of each figure (folds lacking a figure left out)."""
    out = {}
    for name in _figures_of(per_fold[0], classes):
        values = [v for v in (_figures_of(m, classes)[name] for m in per_fold) if v is not None]
        out[name] = {"mean": float(np.mean(values)) if values else None,
                     "std": float(np.std(values, ddof=1)) if len(values) > 1 else None, "folds": len(values)}
    return out


def set_summary(scored: PooledSet) -> dict:
    """One player's figures on one set: pooled (with intervals), per fold, and mean and spread over folds."""
    everything = np.ones(scored.labels.size, dtype=bool)
    pooled = {**classification_metrics(scored.probs, scored.labels, scored.classes),
              "per_source_accuracy": _per_source(scored, everything)}
    per_fold = []
    for fold in sorted(set(scored.folds.tolist())):
        mask = scored.folds == fold
        per_fold.append({"fold": fold, **classification_metrics(scored.probs[mask], scored.labels[mask],
                                                                scored.classes, intervals=False),
                         "per_source_accuracy": _per_source(scored, mask)})
    sources = sorted(pooled["per_source_accuracy"])
    source_spread = {}
    for source in sources:
        values = [m["per_source_accuracy"][source]["accuracy"] for m in per_fold if source in m["per_source_accuracy"]]
        source_spread[source] = {"mean": float(np.mean(values)),
                                 "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}
    return {"pooled": pooled, "folds": per_fold, "over_folds": _spread(per_fold, scored.classes),
            "per_source_over_folds": source_spread}


def cv_summary(folder: Path) -> dict:
    """The summary of the finished cross-validation in `folder` (its pooled predictions.csv and folds.json)."""
    folder = Path(folder)
    sets = read_pooled_predictions(folder)
    folds = json.loads((folder / FOLDS_FILE).read_text())
    return {"folder": str(folder), "folds": folds["folds"], "images": folds["images"], "patients": folds["patients"],
            "folds_digest": folds["digest"], "std": "sample standard deviation over folds (ddof 1)",
            "sets": {f"{player} {name}": set_summary(scored) for (player, name), scored in sets.items()}}


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_interval(value, interval) -> str:
    return _number(value) if not interval else f"{_number(value)} ({interval[0]:.3f}-{interval[1]:.3f})"


def _mean_std(entry: dict) -> str:
    if entry["mean"] is None:
        return "n/a"
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}" if entry.get("std") is not None else f"{entry['mean']:.3f}"


def summary_tables(summary: dict) -> dict[str, pd.DataFrame]:
    """The summary's tables by heading: pooled, over folds, per fold, per source."""
    pooled, spread, per_fold, per_source = [], [], [], []
    for name, entry in summary["sets"].items():
        metrics, ci = entry["pooled"], entry["pooled"]["ci95"]
        classes = metrics["classes"]
        pooled.append({"Set": name, "Images": metrics["images"],
                       "Accuracy (95% CI)": _with_interval(metrics["accuracy"], ci["accuracy"]),
                       **{f"Recall {c}": _number(metrics["per_class_recall"][c]) for c in classes},
                       **{f"AUROC {TASK_NAMES[t]} (95% CI)": _with_interval(metrics["auroc"][t], ci["auroc"][t])
                          for t in AUROC_TASKS}})
        over = entry["over_folds"]
        spread.append({"Set": name, "Folds": len(entry["folds"]), "Accuracy": _mean_std(over["accuracy"]),
                       **{f"Recall {c}": _mean_std(over[f"recall_{c}"]) for c in classes},
                       **{f"AUROC {TASK_NAMES[t]}": _mean_std(over[f"auroc_{t}"]) for t in AUROC_TASKS}})
        for fold in entry["folds"]:
            per_fold.append({"Set": name, "Fold": fold["fold"], "Images": fold["images"],
                             "Accuracy": _number(fold["accuracy"]),
                             **{f"Recall {c}": _number(fold["per_class_recall"][c]) for c in classes},
                             **{f"AUROC {TASK_NAMES[t]}": _number(fold["auroc"][t]) for t in AUROC_TASKS}})
        for source, value in metrics["per_source_accuracy"].items():
            per_source.append({"Set": name, "Source": source, "Images": value["images"],
                               "Pooled accuracy": _number(value["accuracy"]),
                               "Over folds": _mean_std(entry["per_source_over_folds"][source])})
    tables = {"Pooled out-of-fold predictions": pd.DataFrame(pooled),
              "Mean ± standard deviation over folds": pd.DataFrame(spread), "Per fold": pd.DataFrame(per_fold)}
    if per_source:
        tables["Accuracy per source"] = pd.DataFrame(per_source)
    return tables


def _lead(summary: dict) -> str:
    return (f"{summary['folds']} folds over {summary['images']} images of {summary['patients']} patients (the "
            f"manifest's train and val splits; the test split left out), folds digest "
            f"`{summary['folds_digest'][:12]}`. Every image is scored once, by a model that never saw its patient; "
            "intervals are class-stratified bootstraps over the pooled predictions (2,000 resamples), spreads the "
            "sample standard deviation over folds.")


def write_cv_summary(folder: Path) -> dict[str, Path]:
    """summary.json, roc.png, summary.md and summary.html in the cv folder; returns their paths."""
    folder = Path(folder)
    summary = cv_summary(folder)
    sets = read_pooled_predictions(folder)
    classes = next(iter(sets.values())).classes
    roc = roc_figure({f"{player} {name}": (s.probs, s.labels) for (player, name), s in sets.items()}, classes)
    tables = summary_tables(summary)
    title = f"Cross-validation: {folder.name}"
    markdown = [f"# {title}", "", _lead(summary), ""]
    for heading, frame in tables.items():
        markdown += [f"## {heading}", "", markdown_table(frame), ""]
    markdown += ["## ROC of the pooled predictions", "", "![ROC](roc.png)", ""]
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
            "th{background:#f3f3f3}img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(_lead(summary).replace('`', ''))}</p>"
            + "".join(f"<h2>{html.escape(heading)}</h2>{html_table(frame)}" for heading, frame in tables.items())
            + "<h2>ROC of the pooled predictions</h2>"
            f"<img alt='ROC' src='data:image/png;base64,{base64.b64encode(roc).decode()}'></body></html>")
    # The figure first: whoever sees summary.md appear finds the file it links to.
    paths = {"roc": write_bytes_atomic(folder / "roc.png", roc),
             "json": write_json_atomic(folder / "summary.json", summary)}
    paths["markdown"] = write_text_atomic(folder / "summary.md", "\n".join(markdown))
    paths["html"] = write_text_atomic(folder / "summary.html", page)
    return paths
