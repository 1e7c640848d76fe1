import numpy as np
import pytest

from cmx_bench.measure.stats import latency_stats, trimmed_mean


def test_statistics_of_known_samples():
    stats = latency_stats([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stats["mean_ms"] == 3.0 and stats["median_ms"] == 3.0 and stats["count"] == 5
    assert stats["std_ms"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert stats["p90_ms"] == pytest.approx(4.6)
    low, high = stats["median_ci95_ms"]
    assert 1.0 <= low <= 3.0 <= high <= 5.0


def test_trimmed_mean_drops_both_tails():
    assert trimmed_mean(np.array([0.0] + [10.0] * 8 + [1000.0])) == 10.0


def test_steady_samples_are_stable_and_noisy_ones_are_flagged():
    rng = np.random.default_rng(0)
    steady = latency_stats(10 + rng.normal(0, 0.1, 500))
    assert not steady["unstable"]
    noisy = latency_stats(10 + rng.exponential(5, 500))
    assert noisy["unstable"] and noisy["unstable_reasons"]


def test_rare_outliers_do_not_make_a_steady_figure_unstable():
    values = np.full(400, 3.0) + np.random.default_rng(1).normal(0, 0.03, 400)
    values[::50] = 12.0
    stats = latency_stats(values)
    assert stats["cv"] > 0.1 and not stats["unstable"] and stats["outliers"] == 8
