import numpy as np
import pytest

from cmx_bench.evaluate.paired import mcnemar_exact, paired_auroc_bootstrap

CLASSES = ("covid", "normal", "pneumonia")


def test_mcnemar_counts_only_the_discordant_images():
    base = np.array([True] * 50 + [False] * 10)
    current = base.copy()
    current[:8] = False  # 8 images only the base gets right
    result = mcnemar_exact(base, current)
    assert (result["only_base_right"], result["only_current_right"]) == (8, 0)
    assert result["p_value"] == pytest.approx(2 * 0.5 ** 8)  # two-sided exact binomial, 8 of 8 one way
    current[50] = True  # and one that only the current gets right: P(X <= 1) + P(X >= 8) for Bin(9, 1/2)
    assert mcnemar_exact(base, current)["p_value"] == pytest.approx(2 * (1 + 9) / 2 ** 9)


def test_mcnemar_without_a_difference_is_p_one():
    base = np.array([True, True, False, False])
    assert mcnemar_exact(base, base)["p_value"] == 1.0
    swapped = np.array([False, True, True, False])  # one each way
    assert mcnemar_exact(base, swapped)["p_value"] == 1.0


def _scores(rng, labels, separation):
    """Class probabilities whose COVID column is higher on COVID images by `separation` on average."""
    probs = rng.uniform(0.1, 0.3, size=(labels.size, 3))
    probs[:, 0] += separation * (labels == 0)
    return probs / probs.sum(axis=1, keepdims=True)


def test_paired_bootstrap_of_the_same_predictions_finds_no_difference():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    probs = _scores(rng, labels, 0.1)
    result = paired_auroc_bootstrap(probs, probs, labels, CLASSES)["covid_vs_rest"]
    assert result["p_value"] == 1.0 and result["difference_ci95"] == [0.0, 0.0]


def test_paired_bootstrap_sees_a_clearly_better_ranking_and_its_direction():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 20)
    weak, strong = _scores(rng, labels, 0.02), _scores(rng, labels, 0.5)
    better = paired_auroc_bootstrap(weak, strong, labels, CLASSES)["covid_vs_rest"]
    assert better["p_value"] < 0.01 and better["difference_ci95"][0] > 0
    worse = paired_auroc_bootstrap(strong, weak, labels, CLASSES)["covid_vs_rest"]
    assert worse["p_value"] < 0.01 and worse["difference_ci95"][1] < 0
    assert paired_auroc_bootstrap(weak, strong, labels, CLASSES) == paired_auroc_bootstrap(weak, strong, labels, CLASSES)


def test_paired_bootstrap_leaves_out_a_task_without_its_classes():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    result = paired_auroc_bootstrap(probs, probs, labels, CLASSES)
    assert result["covid_vs_pneumonia"] is None and result["covid_vs_normal"]["p_value"] == 1.0
