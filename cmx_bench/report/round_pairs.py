"""Networks and formats of one run against each other round by round: the drift-robust ratio `run --rounds` allows."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

# The ratio of two pooled medians mixes whatever the device did in each round; the median of the per-round ratios
# compares timings taken seconds apart, so a device whose speed drifts (a phone heating, a VM whose neighbours come
# and go) slows both sides of each ratio alike. It is what benchmarks/runtimes.py and `cmx-bench tune` report too.


def _round_medians(record: dict) -> dict[int, float]:
    return {entry["round"]: entry["median_ms"] for entry in record["latency"].get("rounds") or []}


def _pair_line(subject: str, other: dict, reference: dict, against: str) -> str | None:
    """'<subject>: 0.59x <against>, median of 5 per-round ratios (0.57-0.62)', `against` naming the reference's
    time; None when the two share fewer than two rounds or a round median is zero."""
    mine, theirs = _round_medians(other), _round_medians(reference)
    shared = sorted(set(mine) & set(theirs))
    if len(shared) < 2 or any(theirs[r] <= 0 for r in shared):
        return None
    ratios = [mine[r] / theirs[r] for r in shared]
    if not all(math.isfinite(ratio) for ratio in ratios):
        return None
    return (f"{subject}: {statistics.median(ratios):.2f}x {against}, median of {len(ratios)} "
            f"per-round ratios ({min(ratios):.2f}-{max(ratios):.2f})")


def _order(record: dict) -> tuple:
    # By name, not by the order the records come in: `run` has them in plan order and `report` by file name, and
    # both must pair alike (pte before pte-int8, fewer threads first).
    config = record["config"]
    return config["model"], config["format"], config.get("threads") or 0, record["record_id"]


def round_pair_notes(records: list[dict]) -> list[str]:
    """For records timed in interleaved rounds in the same run on the same device: at one thread count, each model
    against the first model of its format by name and each format against the model's first format by name; and
    each thread count against the fewest of the same model and format."""
    timed = sorted((r for r in records if r["status"] == "ok" and len(r["latency"].get("rounds") or []) >= 2),
                   key=_order)
    by_format, by_model, by_threads = defaultdict(list), defaultdict(list), defaultdict(list)
    for record in timed:
        config = record["config"]
        place = (record["run_id"], config["device"], config.get("threads"))
        by_format[place + (config["format"],)].append(record)
        by_model[place + (config["model"],)].append(record)
        by_threads[(record["run_id"], config["device"], config["model"], config["format"])].append(record)
    return (_lines(by_format, lambda c: f"{c['model']} {c['format']} on {c['device']}{_at(c.get('threads'))}",
                   lambda c: f"{c['model']}'s time")
            + _lines(by_model, lambda c: f"{c['model']} {c['format']} on {c['device']}{_at(c.get('threads'))}",
                     lambda c: f"its {c['format']}'s time")
            + _lines(by_threads,
                     lambda c: f"{c['model']} {c['format']} on {c['device']}{_at(c.get('threads'), 'the default')}",
                     lambda c: f"its time{_at(c.get('threads'), 'the default')}"))


def _lines(groups: dict, subject, against) -> list[str]:
    """One line per record of each group but its first, against that first; subject and against read a config."""
    lines = []
    for reference, *others in groups.values():
        for other in others:
            if _order(other)[:3] == _order(reference)[:3]:  # the same network twice (two artifacts of it)
                continue
            line = _pair_line(subject(other["config"]), other, reference, against(reference["config"]))
            lines += [line] if line else []
    return lines


def _at(threads, default: str = "") -> str:
    """' at 2 threads'; for 0 (the runtime's default count), ' at <default> threads', or nothing without one."""
    if threads:
        return f" at {threads} thread{'s' if threads != 1 else ''}"
    return f" at {default} threads" if default else ""
