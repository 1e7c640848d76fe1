"""Paired tests of two networks' predictions on the same images: McNemar's exact test for accuracy, a paired
stratified bootstrap for the AUROC tasks."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from cmx_bench.evaluate.metrics import AUROC_TASKS, resample_count_chunks, task_sides, weighted_auroc


def mcnemar_exact(correct_base, correct_current) -> dict:
    """McNemar's exact test: only the images that one side gets right and the other wrong carry information, and
    without a real difference either side is as likely to be the one that is right (a fair coin)."""
    correct_base, correct_current = np.asarray(correct_base, dtype=bool), np.asarray(correct_current, dtype=bool)
    only_base = int((correct_base & ~correct_current).sum())
    only_current = int((correct_current & ~correct_base).sum())
    discordant = only_base + only_current
    p_value = float(binomtest(only_current, discordant, 0.5).pvalue) if discordant else 1.0
    return {"test": "McNemar exact", "only_base_right": only_base, "only_current_right": only_current,
            "p_value": p_value}


def paired_auroc_bootstrap(probs_base, probs_current, labels, classes: tuple[str, ...], *, resamples: int = 2000,
                           seed: int = 0, tasks: tuple[str, ...] = tuple(AUROC_TASKS)) -> dict:
    """For each AUROC task asked for: the difference current - base over class-stratified resamples of the images,
    both networks scored on the same resample, with its 95 % interval and a two-sided p-value (twice the smaller
    tail beyond zero). None for a task this set lacks a side of."""
    probs_base, probs_current = np.asarray(probs_base, dtype=float), np.asarray(probs_current, dtype=float)
    labels = np.asarray(labels, dtype=int)
    sides = {task: masks for task, masks in task_sides(labels, classes).items() if task in tasks}
    out = {task: None for task in tasks}
    if not sides or labels.size < 2:
        return out
    covid = classes.index("covid")
    differences = {task: [] for task in sides}
    for counts in resample_count_chunks(labels, resamples, np.random.default_rng(seed)):
        for task, (positive, negative) in sides.items():
            current, base = (weighted_auroc(probs[positive, covid], probs[negative, covid], counts[:, positive],
                                            counts[:, negative]) for probs in (probs_current, probs_base))
            differences[task].append(current - base)
    for task, chunks in differences.items():
        difference = np.concatenate(chunks)
        tail = min(float((difference <= 0).mean()), float((difference >= 0).mean()))
        out[task] = {"test": "paired bootstrap", "p_value": min(1.0, 2 * tail),
                     "difference_ci95": [float(v) for v in np.percentile(difference, [2.5, 97.5])],
                     "resamples": resamples, "seed": seed}
    return out
