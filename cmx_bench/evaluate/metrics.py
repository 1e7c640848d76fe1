"""Accuracy, per-class recall, confusion matrix and the paper's three COVID AUROC tasks."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

# Figure 4 of the paper: COVID vs normal, COVID vs pneumonia, COVID vs normal + pneumonia.
AUROC_TASKS = {
    "covid_vs_normal": ("normal",),
    "covid_vs_pneumonia": ("pneumonia",),
    "covid_vs_rest": ("normal", "pneumonia"),
}


def auroc_tasks(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    """AUROC of the COVID probability for each task, None where a task lacks one of its classes."""
    covid = classes.index("covid")
    out = {}
    for task, negatives in AUROC_TASKS.items():
        negative_ids = [classes.index(name) for name in negatives]
        keep = np.isin(labels, [covid, *negative_ids])
        truth = (labels[keep] == covid).astype(int)
        out[task] = float(roc_auc_score(truth, probs[keep, covid])) if 0 < truth.sum() < truth.size else None
    return out


def classification_metrics(probs, labels, classes: tuple[str, ...]) -> dict:
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels, dtype=int)
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, labels=list(range(len(classes))))
    recall = {name: (float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None)
              for i, name in enumerate(classes)}
    return {
        "images": int(labels.size), "accuracy": float((predicted == labels).mean()),
        "per_class_recall": recall, "confusion_matrix": matrix.tolist(), "classes": list(classes),
        "auroc": auroc_tasks(probs, labels, classes),
    }
