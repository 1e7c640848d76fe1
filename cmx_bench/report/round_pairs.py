"""Networks and formats of one run against each other round by round: the drift-robust ratio `run --rounds` allows."""

from __future__ import annotations

import statistics
from collections import defaultdict

# The ratio of two pooled medians mixes whatever the device did in each round; the median of the per-round ratios
# compares timings taken seconds apart, so a device whose speed drifts (a phone heating, a VM whose neighbours come
# and go) slows both sides of each ratio alike. It is what benchmarks/runtimes.py and `cmx-bench tune` report too.


def _round_medians(record: dict) -> dict[int, float]:
    return {entry["round"]: entry["median_ms"] for entry in record["latency"].get("rounds") or []}


def _pair_line(subject: str, other: dict, reference: dict, reference_name: str) -> str | None:
    """'<subject>: 0.59x <reference_name>'s time, median of 5 per-round ratios (0.57-0.62)', or None when the two
    share fewer than two rounds or a round median is zero."""
    mine, theirs = _round_medians(other), _round_medians(reference)
    shared = sorted(set(mine) & set(theirs))
    if len(shared) < 2 or any(theirs[r] <= 0 for r in shared):
        return None
    ratios = [mine[r] / theirs[r] for r in shared]
    return (f"{subject}: {statistics.median(ratios):.2f}x {reference_name}'s time, median of {len(ratios)} "
            f"per-round ratios ({min(ratios):.2f}-{max(ratios):.2f})")


def round_pair_notes(records: list[dict]) -> list[str]:
    """For records timed in interleaved rounds in the same run, on the same device at the same threads: each model
    against the first model of its format, and each format against the model's first format."""
    timed = [r for r in records if r["status"] == "ok" and len(r["latency"].get("rounds") or []) >= 2]
    by_format, by_model = defaultdict(list), defaultdict(list)
    for record in timed:
        config = record["config"]
        place = (record["run_id"], config["device"], config.get("threads"))
        by_format[place + (config["format"],)].append(record)
        by_model[place + (config["model"],)].append(record)
    notes = []
    for (_, device, threads, fmt), group in by_format.items():
        reference = group[0]
        for other in group[1:]:
            line = _pair_line(f"{other['config']['model']} {fmt} on {device}{_at(threads)}", other, reference,
                              reference["config"]["model"])
            notes += [line] if line else []
    for (_, device, threads, model), group in by_model.items():
        reference = group[0]
        for other in group[1:]:
            line = _pair_line(f"{model} {other['config']['format']} on {device}{_at(threads)}", other, reference,
                              f"its {reference['config']['format']}")
            notes += [line] if line else []
    return notes


def _at(threads) -> str:
    return f" at {threads} threads" if threads else ""
