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
    # smaps_rollup costs ~13 ms for a torch process, so it is read at the runner's phase marks and on a slow period.
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

    def __init__(self, pid: int, period_s: float = 0.1, pss_period_s: float = 2.0, announce_phases: bool = False):
        self.period_s, self.pss_period_s = period_s, pss_period_s
        self.process = psutil.Process(pid)
        self.rapl_domains = rapl.readable_domains()
        self.series = {"t": [], "cpu_s": [], "system_cpu_s": [], "rss_mb": [], "pss_mb": [], "uss_mb": []}
        if self.rapl_domains:
            self.series["rapl_uj"] = []
        self.self_cpu_s = 0.0
        # Before the runner's first phase mark it is importing torch: nothing there is reported, so the
        # sampler idles at a slow rate and reads no PSS.
        self._next_pss = float("inf") if announce_phases else 0.0
        self._runner_ready = threading.Event()
        if not announce_phases:
            self._runner_ready.set()
        self._pss_requested, self._wake = threading.Event(), threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cmx-host-sampler", daemon=True)

    def start(self) -> "HostProcessSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        return self.series

    def phase_reached(self, name: str, read_pss: bool) -> None:
        """The runner announced a phase: sample at full rate from now on, and read PSS at once if asked."""
        self._runner_ready.set()
        if read_pss:
            self._pss_requested.set()
            self._wake.set()

    def sample_once(self, pss_due: bool | None = None) -> bool:
        """Append one sample; PSS/USS when `pss_due` (None: when requested or the slow period is over)."""
        try:
            with self.process.oneshot():
                cpu = self.process.cpu_times()
                rss = self.process.memory_info().rss
            now = time.monotonic()
            if pss_due is None:
                pss_due = self._pss_requested.is_set() or now >= self._next_pss
            pss_kb, uss_kb = _read_pss_uss_kb(self.process) if pss_due else (None, None)
        except psutil.Error:
            return False
        if pss_due:
            self._pss_requested.clear()
            self._next_pss = now + self.pss_period_s
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
            period = self.period_s if self._runner_ready.is_set() else max(self.period_s, 0.5)
            self._wake.wait(max(0.0, period - (time.monotonic() - now)))
            self._wake.clear()
        self.self_cpu_s = time.thread_time() - cpu_start
