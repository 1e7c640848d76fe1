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


def _graded_set(n_per_class: int, wrong_per_class: int, seed: int = 0):
    """Three classes of n images each; in each class the first `wrong_per_class` images are predicted as the next
    class, and COVID probabilities are random but higher on COVID images on average."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n_per_class)
    predicted = labels.copy()
    for c in range(3):
        predicted[np.flatnonzero(labels == c)[:wrong_per_class]] = (c + 1) % 3
    probs = np.full((labels.size, 3), 0.1)
    probs[np.arange(labels.size), predicted] = 0.8
    probs[:, 0] += rng.uniform(0, 0.05, labels.size)  # COVID scores with ties broken, argmax unchanged
    return probs, labels


def test_weighted_auroc_equals_sklearn_on_the_resample_written_out_with_ties():
    from sklearn.metrics import roc_auc_score

    from cmx_bench.evaluate.metrics import weighted_auroc

    rng = np.random.default_rng(1)
    positive, negative = rng.integers(0, 5, size=9) / 4, rng.integers(0, 5, size=12) / 4
    positive_counts, negative_counts = rng.integers(0, 3, size=(7, 9)), rng.integers(0, 3, size=(7, 12))
    positive_counts[:, 0] += 1
    negative_counts[:, 0] += 1
    expected = []
    for p_counts, n_counts in zip(positive_counts, negative_counts):
        scores = np.concatenate([np.repeat(positive, p_counts), np.repeat(negative, n_counts)])
        expected.append(roc_auc_score([1] * p_counts.sum() + [0] * n_counts.sum(), scores))
    assert weighted_auroc(positive, negative, positive_counts, negative_counts) == pytest.approx(expected)


def test_bootstrap_intervals_hold_the_estimate_and_are_reproducible():
    probs, labels = _graded_set(20, 4)
    metrics = classification_metrics(probs, labels, CLASSES)
    ci = metrics["ci95"]
    assert ci["resamples"] == 2000 and ci == classification_metrics(probs, labels, CLASSES)["ci95"]
    low, high = ci["accuracy"]
    assert metrics["accuracy"] == pytest.approx(0.8) and low < metrics["accuracy"] < high
    for task, value in metrics["auroc"].items():
        assert ci["auroc"][task][0] <= value <= ci["auroc"][task][1]
    # 60 images at 0.8: a binomial standard error of 0.052, so a 95 % interval about 0.2 wide (a little less,
    # because stratifying fixes the class counts).
    assert 0.12 < high - low < 0.22


def test_bootstrap_intervals_narrow_with_more_images_and_vanish_when_perfect():
    small = classification_metrics(*_graded_set(20, 4), CLASSES)["ci95"]["accuracy"]
    large = classification_metrics(*_graded_set(500, 100), CLASSES)["ci95"]["accuracy"]
    assert (small[1] - small[0]) / (large[1] - large[0]) > 3.5  # sqrt(25) = 5 in theory
    perfect = classification_metrics(*_graded_set(10, 0), CLASSES)["ci95"]
    assert perfect["accuracy"] == [1.0, 1.0]
    assert perfect["auroc"]["covid_vs_rest"] == [1.0, 1.0]


def test_bootstrap_intervals_skip_an_auroc_task_without_both_classes():
    ci = classification_metrics(np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]), np.array([0, 1]), CLASSES)["ci95"]
    assert ci["auroc"]["covid_vs_pneumonia"] is None and ci["auroc"]["covid_vs_normal"] == [1.0, 1.0]
