"""Notes on the conditions a run met: small cores, low clocks, throttling, drift between rounds, a missing warm
load."""

from __future__ import annotations

from cmx_bench.results.metrics import big_core_share, clock_fraction, sustained_slowdown

# Below these a run's latency says more about the scheduler or the governor than about the network.
MOSTLY_SMALL_CORES = 0.5
LOW_CLOCK = 0.8


def _name(record: dict) -> str:
    config = record["config"]
    threads = f" at {config['threads']} threads" if config.get("threads") else ""
    return f"{config['model']} {config['format']}{threads} on {config['device']}"


def _placement_notes(record: dict) -> list[str]:
    placement = record.get("placement") or {}
    notes = []
    share, clock = big_core_share(record), clock_fraction(record)
    if share is not None and share < MOSTLY_SMALL_CORES:
        notes.append(f"{_name(record)} ran mostly on small cores: {100 * share:.0f} % of its CPU time off the "
                     "slowest cluster; its latency is the scheduler's as much as the network's")
    if clock is not None and clock < LOW_CLOCK:
        notes.append(f"{_name(record)} ran below 80 % clock ({100 * clock:.0f} % of the clusters' maximum over the "
                     "timed window): throttled or a power-saving governor")
    if placement.get("status") == "ok" and clock is None and placement.get("clock_reason"):
        notes.append(f"Clocks on {record['config']['device']}: unavailable ({placement['clock_reason']})")
    if placement.get("status") == "unavailable" and record["status"] == "ok":
        notes.append(f"Cores and clocks of {_name(record)}: unavailable ({placement.get('reason')})")
    return notes


def _sustained_note(record: dict) -> list[str]:
    block = record.get("sustained")
    if not block:
        return []
    slowdown = sustained_slowdown(record)
    return [f"{_name(record)} sustained {block['window_s']:.0f} s: steady-state slowdown "
            f"{'unknown' if slowdown is None else f'{slowdown:.2f}x'} (median of the last 10 % of the time over the "
            f"first 10 %); throttling: {block['throttling']}"]


# Round medians further apart than this: the device's speed changed during the run.
ROUND_DRIFT = 1.10


def _rounds_note(record: dict) -> list[str]:
    rounds = record["latency"].get("rounds") or []
    if len(rounds) < 2:
        return []
    medians = [entry["median_ms"] for entry in rounds]
    low, high = min(medians), max(medians)
    drift = (f"; the device's speed changed {high / low:.2f}x between rounds, and the pooled median holds for "
             "the mix" if low > 0 and high > ROUND_DRIFT * low else "")
    return [f"{_name(record)}: latency pooled over {len(rounds)} interleaved rounds, round medians "
            f"{low:.3g}-{high:.3g} ms{drift}"]


def run_condition_notes(records: list[dict]) -> list[str]:
    """One line per condition worth knowing before trusting a run's latency, deduplicated, in record order."""
    notes = []
    for record in records:
        notes += _placement_notes(record) + _sustained_note(record) + _rounds_note(record)
        warm_error = (record.get("runner") or {}).get("warm_load_error")
        if warm_error:
            notes.append(f"{_name(record)}: no warm load ({warm_error})")
    return list(dict.fromkeys(notes))
