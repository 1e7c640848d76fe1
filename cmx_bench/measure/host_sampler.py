"""Sample a host process while it runs: CPU time, RSS, PSS/USS, its threads' CPUs, cpufreq clocks and RAPL energy."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil

from cmx_bench.errors import ParseError
from cmx_bench.measure import rapl
from cmx_bench.measure.cpu_placement import (SYS_CPU, discover_clusters, no_clock_reason, parse_cpu_list,
                                             parse_sysfs_int, parse_task_stats, parse_time_in_state, placement_figures,
                                             policy_names)
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


def read_host_tasks(pid: int) -> dict[int, list[int]] | None:
    """{tid: [utime + stime ticks, CPU last run on]} of every thread of `pid`; None when the process is gone."""
    folder = Path(f"/proc/{pid}/task")
    try:
        tids = os.listdir(folder)
    except OSError:
        return None
    lines = []
    for tid in tids:
        try:
            lines.append((folder / tid / "stat").read_text())
        except OSError:
            pass  # the thread ended between the listing and the read
    try:
        return parse_task_stats(lines)
    except ParseError:
        return None


def _read_number(path: Path) -> int | None:
    try:
        return parse_sysfs_int(path.read_text())
    except (OSError, ParseError):
        return None


def _per_cpu(root: Path, cpus: list[int], name: str) -> dict[int, int] | None:
    """One number per CPU from cpuN/`name`, or None unless every CPU has it (a partial map would misplace CPUs)."""
    values = {cpu: _read_number(root / f"cpu{cpu}" / name) for cpu in cpus}
    return values if values and None not in values.values() else None


def discover_host_clusters(root: Path = Path(SYS_CPU)) -> dict:
    """This host's CPU clusters (see cpu_placement.discover_clusters); `root` is /sys/devices/system/cpu."""
    cpus = sorted(int(p.name[3:]) for p in root.glob("cpu[0-9]*") if p.name[3:].isdigit())
    cpus = cpus or list(range(os.cpu_count() or 1))
    facts = {}
    cpufreq = root / "cpufreq"
    listing = " ".join(p.name for p in cpufreq.iterdir()) if cpufreq.is_dir() else None
    if listing:
        for policy in policy_names(listing):
            try:
                facts[policy] = (parse_cpu_list((cpufreq / policy / "related_cpus").read_text()),
                                 parse_sysfs_int((cpufreq / policy / "cpuinfo_max_freq").read_text()))
            except (OSError, ParseError):
                pass
    reason = no_clock_reason(listing, "host").replace(SYS_CPU, str(root))  # a test's tree names itself
    return discover_clusters(len(cpus), facts or None, _per_cpu(root, cpus, "cpu_capacity"),
                             _per_cpu(root, cpus, "cpufreq/cpuinfo_max_freq"), cpufreq_reason=reason)


def read_host_clocks(discovery: dict, root: Path = Path(SYS_CPU)) -> dict[str, dict]:
    """stats/time_in_state and scaling_cur_freq of each clock folder of the clusters (None where unreadable)."""
    clocks = {}
    for folder in (d for cluster in discovery["clusters"] for d in cluster["clock_dirs"]):
        try:
            table = parse_time_in_state((root / folder / "stats/time_in_state").read_text())
        except (OSError, ParseError):
            table = None
        clocks[folder] = {"time_in_state": table, "cur_khz": _read_number(root / folder / "scaling_cur_freq")}
    return clocks


# The clocks are read at these phase marks (the measured window's bounds) and at the slow PSS period.
CLOCK_PHASES = {"measure_start", "measure_end"}


class HostProcessSampler:
    """Background thread; `series` holds one list per column, appended as samples come.

    Beside it, `task_samples` ({"t", "threads": {tid: [ticks, cpu]}}, one per sample) and `clock_readings`
    ({"t", "clocks"}) feed placement(); `series` keeps its columns for the other figures."""

    def __init__(self, pid: int, period_s: float = 0.1, pss_period_s: float = 2.0, announce_phases: bool = False,
                 cpu_root: Path = Path(SYS_CPU)):
        self.period_s, self.pss_period_s = period_s, pss_period_s
        self.process = psutil.Process(pid)
        self.rapl_domains = rapl.readable_domains()
        self.series = {"t": [], "cpu_s": [], "system_cpu_s": [], "rss_mb": [], "pss_mb": [], "uss_mb": []}
        if self.rapl_domains:
            self.series["rapl_uj"] = []
        self.self_cpu_s = 0.0
        self.cpu_root = cpu_root  # /sys/devices/system/cpu, or a tree made by a test
        self.discovery = discover_host_clusters(cpu_root)
        self.task_samples: list[dict] = []
        self.clock_readings: list[dict] = []
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
        if name in CLOCK_PHASES:
            self.read_clocks()
        if read_pss:
            self._pss_requested.set()
            self._wake.set()

    def read_clocks(self) -> None:
        """Append one reading of the clusters' cpufreq clocks (nothing to read on a host without cpufreq)."""
        if any(cluster["clock_dirs"] for cluster in self.discovery["clusters"]):
            self.clock_readings.append({"t": time.time(), "clocks": read_host_clocks(self.discovery, self.cpu_root)})

    def placement(self, start: float, end: float, profile: dict) -> dict:
        """Where the process's threads ran in [start, end] and at what clock (cpu_placement.placement_figures)."""
        return placement_figures(self.task_samples, self.discovery, self.clock_readings, start, end, profile)

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
        threads = read_host_tasks(self.process.pid)
        if pss_due:
            self._pss_requested.clear()
            self._next_pss = now + self.pss_period_s
            self.read_clocks()
        s, t = self.series, time.time()
        if threads is not None:
            self.task_samples.append({"t": t, "threads": threads})
        s["t"].append(t)
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
