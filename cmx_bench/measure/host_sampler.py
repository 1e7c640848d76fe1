"""Sample a host process while it runs: CPU time, RSS, PSS/USS and (when readable) RAPL energy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil

from cmx_bench.measure import rapl
from cmx_bench.measure.linux_proc import parse_smaps_rollup_kb

SYSTEM_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def system_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(getattr(times, name, 0.0) for name in SYSTEM_CPU_FIELDS))


def _read_pss_uss_kb(process: psutil.Process) -> tuple[int | None, int | None]:
    # smaps_rollup costs ~10 ms for a torch process, so it is read on a slower period than the rest.
    rollup = Path(f"/proc/{process.pid}/smaps_rollup")
    try:
        parsed = parse_smaps_rollup_kb(rollup.read_text())
        return parsed["pss_kb"], parsed["uss_kb"]
    except OSError:
        pass
    try:
        full = process.memory_full_info()
        return getattr(full, "pss", 0) // 1024 or None, full.uss // 1024
    except (psutil.Error, AttributeError):
        return None, None


class HostProcessSampler:
    """Background thread; `series` holds one list per column, appended as samples come."""

    def __init__(self, pid: int, period_s: float = 0.1, pss_period_s: float = 2.0, pss_min_gap_s: float = 0.5,
                 pss_rss_trigger_mb: float = 2.0):
        self.period_s, self.pss_period_s = period_s, pss_period_s
        # Besides the slow period, PSS is re-read when RSS has moved (a model load), at most every pss_min_gap_s.
        self.pss_min_gap_s, self.pss_rss_trigger_mb = pss_min_gap_s, pss_rss_trigger_mb
        self.process = psutil.Process(pid)
        self.rapl_domains = rapl.readable_domains()
        self.series = {"t": [], "cpu_s": [], "system_cpu_s": [], "rss_mb": [], "pss_mb": [], "uss_mb": []}
        if self.rapl_domains:
            self.series["rapl_uj"] = []
        self.self_cpu_s = 0.0
        self._next_pss, self._last_pss, self._rss_at_pss = 0.0, -1e9, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cmx-host-sampler", daemon=True)

    def start(self) -> "HostProcessSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return self.series

    def sample_once(self, pss_due: bool | None = None) -> bool:
        """Append one sample; PSS/USS when `pss_due` (None: when the RSS trigger or period says so)."""
        try:
            with self.process.oneshot():
                cpu = self.process.cpu_times()
                rss = self.process.memory_info().rss
            now = time.monotonic()
            if pss_due is None:
                moved = abs(rss / 2**20 - self._rss_at_pss) >= self.pss_rss_trigger_mb
                pss_due = now >= self._next_pss or (moved and now - self._last_pss >= self.pss_min_gap_s)
            pss_kb, uss_kb = _read_pss_uss_kb(self.process) if pss_due else (None, None)
        except psutil.Error:
            return False
        if pss_due:
            self._last_pss, self._next_pss, self._rss_at_pss = now, now + self.pss_period_s, rss / 2**20
        s = self.series
        s["t"].append(time.time())
        s["cpu_s"].append(cpu.user + cpu.system + cpu.children_user + cpu.children_system)
        s["system_cpu_s"].append(system_cpu_seconds())
        s["rss_mb"].append(rss / 2**20)
        s["pss_mb"].append(pss_kb / 1024 if pss_kb is not None else None)
        s["uss_mb"].append(uss_kb / 1024 if uss_kb is not None else None)
        if self.rapl_domains:
            s["rapl_uj"].append(rapl.read_total_uj(self.rapl_domains))
        return True

    def _loop(self) -> None:
        cpu_start = time.thread_time()
        while not self._stop.is_set():
            now = time.monotonic()
            if not self.sample_once():
                break
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - now)))
        self.self_cpu_s = time.thread_time() - cpu_start
