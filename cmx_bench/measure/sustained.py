"""A sustained run's figures: latency per second, the thermal and clock series, the slowdown and throttling onset."""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

# The steady state is judged on the last tenth of the run against the first (MLPerf Mobile and Jetpack Benchmark
# compare the start of a run with its end the same way).
EDGE_SHARE = 0.1
# A CPU whose highest allowed clock (scaling_max_freq, which thermal limits lower) falls below this share of its
# earlier value is capped. Not the current clock: a governor moves that between idle and full all the time.
CLOCK_CAP_SHARE = 0.95


class PeriodicReader:
    """A background thread that calls `read()` every `period_s` seconds and keeps {"t": [...], name: [...]}.

    `read` returns a dict of figures (None where unreadable); `clock` gives the time base of the runner's phases (the
    phone's clock for a phone), so that the series lines up with the latency series."""

    def __init__(self, read: Callable[[], dict], period_s: float, clock: Callable[[], float] = time.time):
        self.read, self.period_s, self.clock = read, period_s, clock
        self.series: dict[str, list] = {"t": []}
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cmx-periodic-reader", daemon=True)

    def start(self) -> "PeriodicReader":
        self._thread.start()
        return self

    def stop(self) -> dict:
        """The readings so far, as a copy cut to whole rows (a reading blocked in adb may still be running)."""
        self._stop.set()
        self._thread.join(timeout=30)
        rows = len(self.series["t"])
        readings = {name: list(column[:rows]) for name, column in self.series.items()}
        if self.failure is not None:
            readings["failure"] = (str(self.failure).splitlines() or [type(self.failure).__name__])[0][:200]
        return readings

    def _loop(self) -> None:
        while not self._stop.is_set():
            tic = time.monotonic()
            try:
                values = self.read()
            except Exception as exc:  # a phone that went away: the run itself reports it; keep what was read
                self.failure = exc
                return
            self.series["t"].append(self.clock())
            for name, value in values.items():
                column = self.series.setdefault(name, [None] * (len(self.series["t"]) - 1))
                column.append(value)
            for name, column in self.series.items():  # a figure missing from this reading
                if len(column) < len(self.series["t"]):
                    column.append(None)
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - tic)))


def latency_end_times_s(latencies_ms: list[float], window_s: float) -> np.ndarray:
    """When each timed inference ended, in seconds from the start of timing.

    Runners report latencies, not timestamps; in a sustained run the inferences follow each other without pause, so
    their running sum is their time line, stretched to the timed window to spread the (small) time between them."""
    ends = np.cumsum(np.asarray(latencies_ms, dtype=float)) / 1e3
    return ends * (window_s / ends[-1]) if len(ends) and ends[-1] > 0 and window_s > 0 else ends


def latency_per_second(latencies_ms: list[float], window_s: float) -> dict:
    """Median latency and inference count in each whole second of the timed window, an inference counted in the
    second it began (seconds without an inference are left out rather than given a made-up value)."""
    ends = latency_end_times_s(latencies_ms, window_s)
    seconds = np.floor(np.concatenate([[0.0], ends[:-1]]) + 1e-9).astype(int)
    values = np.asarray(latencies_ms, dtype=float)
    rows = [(int(s), float(np.median(values[seconds == s])), int((seconds == s).sum())) for s in np.unique(seconds)]
    return {"t_s": [r[0] for r in rows], "median_ms": [r[1] for r in rows], "inferences": [r[2] for r in rows]}


def steady_state_slowdown(latencies_ms: list[float], window_s: float) -> float | None:
    """Median latency of the last tenth of the time over the first tenth's (> 1: slower at the end)."""
    ends = latency_end_times_s(latencies_ms, window_s)
    if len(ends) < 2:
        return None
    values = np.asarray(latencies_ms, dtype=float)
    first, last = values[ends <= EDGE_SHARE * ends[-1]], values[ends >= (1 - EDGE_SHARE) * ends[-1]]
    if not len(first) or not len(last):
        return None
    return float(np.median(last) / np.median(first))


def _first_throttled(t: list[float], status: list, allowed: list) -> tuple[float, str] | None:
    """The first reading with a thermal status above 0, or a CPU's allowed clock capped below its earlier highest."""
    highest: dict[int, int] = {}
    for when, level, clocks in zip(t, status, allowed):
        if level is not None and level > 0:
            return when, f"thermal status {level}"
        for cpu, clock in enumerate(clocks or []):
            if clock is None:  # an offline CPU, or a file that could not be read
                continue
            if cpu in highest and clock < CLOCK_CAP_SHARE * highest[cpu]:
                return when, f"clock cap on CPU {cpu} ({clock} of {highest[cpu]} kHz allowed before)"
            highest[cpu] = max(highest.get(cpu, 0), clock)
    return None


def sustained_block(latencies_ms: list[float], start: float, end: float, readings: dict, requested_s: float) -> dict:
    """The record's `sustained` block: the per-second latency, the periodic readings on the same time line (seconds
    from the start of timing), the slowdown and when throttling began (or why it cannot be told)."""
    window = end - start
    t = [round(v - start, 3) for v in readings.get("t", [])]
    status = readings.get("thermal_status", [None] * len(t))
    allowed = readings.get("max_freq_khz", [None] * len(t))
    timed = [i for i, when in enumerate(t) if 0 <= when <= window]  # warm-up and the warm load are not the run
    onset = _first_throttled(*([column[i] for i in timed] for column in (t, status, allowed)))
    readable = any(v is not None for v in status) or any(allowed)
    if onset:
        began, reason = onset[0], f"{onset[1]} at {onset[0]:.1f} s"
    else:
        began = None
        reason = ("no thermal status above 0 and no clock cap in the run" if readable else
                  "unknown: the device reports neither a thermal status nor CPU clock limits")
    if readings.get("failure"):  # the readings stopped: say so rather than claim a cool run
        last = f" after {t[-1]:.0f} s" if t else ""
        reason += f"; the readings stopped{last} ({readings['failure']})"
    return {"requested_s": requested_s, "window_s": window, "latency_per_second": latency_per_second(latencies_ms, window),
            "readings": {"t_s": t, **{k: v for k, v in readings.items() if k not in ("t", "failure")}},
            "slowdown": steady_state_slowdown(latencies_ms, window), "throttling_began_s": began,
            "throttling": reason}
