"""Compare two evaluations of the same images (their predictions.csv): accuracy by McNemar's exact test,
COVID-vs-rest AUROC by a paired bootstrap, each judged against its threshold as runs are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmx_bench.errors import DataError
from cmx_bench.evaluate.metrics import auroc_tasks
from cmx_bench.evaluate.paired import mcnemar_exact, paired_auroc_bootstrap
from cmx_bench.evaluate.predictions import PredictionSet, read_predictions
from cmx_bench.results.compare import judge
from cmx_bench.results.thresholds import Metric


def is_evaluation_folder(path: Path) -> bool:
    """An `evaluate` folder, or a `cv` one (folds.json; compared on its pooled predictions, results/cv_compare.py)."""
    return Path(path).is_dir() and any((Path(path) / name).is_file() for name in ("predictions.csv", "folds.json"))


def _aligned(name: str, base: PredictionSet, current: PredictionSet) -> PredictionSet:
    """`current` in `base`'s image order; DataError when the two did not score the same labelled images."""
    position = {file: index for index, file in enumerate(current.files)}
    if sorted(position) != sorted(base.files) or len(position) != len(current.files) or base.classes != current.classes:
        raise DataError(f"the two evaluations scored other images in set '{name}' (or other classes): a paired "
                        "comparison needs the same images, so evaluate both on the same data and split")
    order = np.array([position[file] for file in base.files], dtype=int)
    if not np.array_equal(current.labels[order], base.labels):
        raise DataError(f"the two evaluations give some images of set '{name}' other labels; evaluate both on the "
                        "same manifest")
    return PredictionSet(base.files, base.labels, current.probs[order], current.classes)


def compare_evaluations(base_dir: Path, current_dir: Path, metrics: dict[str, Metric]) -> tuple[list[dict], list[str]]:
    """One row per set the two share and per metric (accuracy, COVID-vs-rest AUROC): base, current, the paired
    test's p-value and the verdict. A regression is a drop past the threshold with p < 0.05. Also why a set was not
    compared (a set of other images, e.g. snapshot twins made again elsewhere); DataError when none could be.
    Two cross-validations (`cmx-bench cv` folders) are compared on their pooled out-of-fold predictions."""
    from cmx_bench.results.cv_compare import compare_cv_runs, is_cv_folder

    if is_cv_folder(base_dir) or is_cv_folder(current_dir):
        return compare_cv_runs(base_dir, current_dir, metrics)
    return compare_prediction_sets(read_predictions(base_dir), read_predictions(current_dir), base_dir, current_dir,
                                   metrics)


def compare_prediction_sets(base_sets: dict[str, PredictionSet], current_sets: dict[str, PredictionSet], base_dir,
                            current_dir, metrics: dict[str, Metric]) -> tuple[list[dict], list[str]]:
    """compare_evaluations on sets already read, by name; `base_dir` and `current_dir` name them in messages."""
    rows, unpaired = [], []
    for name in base_sets:
        base = base_sets[name]
        try:
            current = _aligned(name, base, current_sets[name]) if name in current_sets else None
        except DataError as exc:
            unpaired.append(str(exc))
            continue
        if current is None:
            unpaired.append(f"set '{name}' is only in {base_dir}")
            continue
        labels = base.labels
        correct = [s.probs.argmax(1) == labels for s in (base, current)]
        mcnemar = mcnemar_exact(*correct)
        rows.append({"set": name, "images": int(labels.size),
                     **judge(metrics["accuracy"], float(correct[0].mean()), float(correct[1].mean()),
                             mcnemar["p_value"], mcnemar["test"]),
                     "detail": f"{mcnemar['only_base_right']} right in base only, "
                               f"{mcnemar['only_current_right']} in current only"})
        aurocs = [auroc_tasks(s.probs, labels, base.classes)["covid_vs_rest"] for s in (base, current)] \
            if "covid" in base.classes else [None]
        if None not in aurocs:
            paired = paired_auroc_bootstrap(base.probs, current.probs, labels, base.classes,
                                            tasks=("covid_vs_rest",))["covid_vs_rest"]
            low, high = paired["difference_ci95"]
            rows.append({"set": name, "images": int(labels.size),
                         **judge(metrics["auroc_covid_vs_rest"], aurocs[0], aurocs[1], paired["p_value"],
                                 paired["test"]),
                         "detail": f"difference 95 % interval {low:+.3f} to {high:+.3f}"})
    unpaired += [f"set '{name}' is only in {current_dir}" for name in current_sets if name not in base_sets]
    if not rows:
        raise DataError(f"{base_dir} and {current_dir} share no set of the same images ({'; '.join(unpaired)})")
    return rows, unpaired
