import numpy as np
import pytest

from cmx_bench.evaluate.metrics import classification_metrics

CLASSES = ("covid", "normal", "pneumonia")


def test_accuracy_recall_and_auroc_tasks():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1],
                      [0.1, 0.8, 0.1], [0.3, 0.1, 0.6], [0.05, 0.15, 0.8]])
    metrics = classification_metrics(probs, labels, CLASSES)
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert metrics["per_class_recall"] == {"covid": 0.5, "normal": 1.0, "pneumonia": 1.0}
    # COVID probabilities 0.9, 0.4 vs normal 0.2, 0.1: perfectly ranked.
    assert metrics["auroc"]["covid_vs_normal"] == 1.0
    # vs pneumonia 0.3, 0.05: 0.4 > 0.3 and 0.9 > both.
    assert metrics["auroc"]["covid_vs_pneumonia"] == 1.0
    assert metrics["confusion_matrix"][0] == [1, 1, 0]


def test_auroc_is_none_when_a_task_lacks_a_class():
    metrics = classification_metrics(np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]), np.array([0, 1]), CLASSES)
    assert metrics["auroc"]["covid_vs_pneumonia"] is None and metrics["auroc"]["covid_vs_normal"] == 1.0
