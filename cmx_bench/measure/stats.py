"""Latency statistics with a stability verdict (coefficient of variation and bootstrap CI)."""

from __future__ import annotations

import numpy as np

CV_UNSTABLE = 0.10          # robust CV (1.4826 * MAD / median) above this: the figure moves too much to trust
CI_UNSTABLE = 0.05          # bootstrap 95% CI half-width of the median above 5% of it: same
TRIM = 0.10                 # trimmed mean drops this share at each end


def trimmed_mean(values: np.ndarray, trim: float = TRIM) -> float:
    ordered = np.sort(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut:len(ordered) - cut] if len(ordered) > 2 * cut else ordered
    return float(kept.mean())


def bootstrap_median_ci(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    medians = np.median(values[picks], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


def latency_stats(samples_ms, *, cv_threshold: float = CV_UNSTABLE, ci_threshold: float = CI_UNSTABLE) -> dict:
    """Summary of raw latencies in milliseconds; `unstable` says whether the median can be trusted."""
    values = np.asarray(samples_ms, dtype=float)
    if values.size == 0:
        raise ValueError("no latency samples")
    mean, median = float(values.mean()), float(np.median(values))
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    ci_low, ci_high = bootstrap_median_ci(values)
    cv = std / mean if mean > 0 else 0.0
    # A few slow outliers (a context switch) inflate std; the verdict uses the robust spread instead.
    robust_cv = 1.4826 * float(np.median(np.abs(values - median))) / median if median > 0 else 0.0
    outliers = int((values > median + 5 * max(robust_cv * median, 1e-9)).sum())
    ci_rel = (ci_high - ci_low) / 2 / median if median > 0 else 0.0
    reasons = []
    if robust_cv > cv_threshold:
        reasons.append(f"robust cv {robust_cv:.2f} > {cv_threshold}")
    if ci_rel > ci_threshold:
        reasons.append(f"median CI +/-{ci_rel:.1%} > {ci_threshold:.0%}")
    return {
        "count": int(values.size), "mean_ms": mean, "median_ms": median, "min_ms": float(values.min()),
        "max_ms": float(values.max()), "p90_ms": float(np.percentile(values, 90)),
        "p99_ms": float(np.percentile(values, 99)), "std_ms": std, "trimmed_mean_ms": trimmed_mean(values),
        "median_ci95_ms": [ci_low, ci_high], "cv": cv, "robust_cv": robust_cv,
        "outliers": outliers, "unstable": bool(reasons), "unstable_reasons": reasons,
    }
