"""Sample the runner app over adb while it runs: CPU ticks, RSS, PSS, VmHWM, fuel gauge, its threads' CPUs, clocks."""

from __future__ import annotations

import threading
import time

from cmx_bench.devices.android.adb_link import DeviceDisconnected
from cmx_bench.errors import ParseError
from cmx_bench.measure.android_dumpsys import NoProcessError, parse_meminfo_totals_kb
from cmx_bench.measure.cpu_placement import (SYS_CPU, clock_files, discover_clusters, is_task_stat_line,
                                             no_clock_reason, parse_clock_reading, parse_cpu_list,
                                             parse_per_cpu_values, parse_policy_facts, parse_task_stats,
                                             placement_figures, policy_names)
from cmx_bench.measure.linux_proc import (parse_pid_stat_rss_pages, parse_pid_stat_ticks, parse_proc_stat_total_ticks,
                                         parse_status_kb)

PAGE_KB = 4  # /proc/<pid>/stat's rss is in pages; Android phones use 4 KiB pages
FUEL_GAUGE = ["/sys/class/power_supply/battery/current_now", "/sys/class/power_supply/battery/voltage_now"]


def _without_errors(text: str) -> list[str]:
    """Output lines less cat's complaints: a thread that ended after the listing leaves one, in any order."""
    return [line for line in text.splitlines() if not line.startswith("cat: ")]


def discover_phone_clusters(link) -> tuple[dict, int]:
    """The phone's clusters (cpu_placement.discover_clusters), read once per run, and the adb commands it took."""
    commands = 2
    possible = link.read_text(["cat", f"{SYS_CPU}/possible"]) or "0"
    try:
        cpus = parse_cpu_list(possible)
    except ParseError:
        cpus = [0]
    listing = link.read_text(["ls", f"{SYS_CPU}/cpufreq"])
    policies = policy_names(listing or "")
    facts = capacities = max_freqs = None
    if policies:
        commands += 1
        text = link.shell(["cat", *(f"{SYS_CPU}/cpufreq/{p}/{name}" for p in policies
                                    for name in ("related_cpus", "cpuinfo_max_freq"))], check=False)
        try:
            facts = parse_policy_facts(text, policies)
        except ParseError:
            facts = None
    for name in ([] if facts else ["cpu_capacity", "cpufreq/cpuinfo_max_freq"]):
        commands += 1
        text = link.read_text(["cat", *(f"{SYS_CPU}/cpu{cpu}/{name}" for cpu in cpus)])
        try:
            values = parse_per_cpu_values(text or "", cpus)
        except ParseError:
            continue
        capacities, max_freqs = (values, None) if name == "cpu_capacity" else (None, values)
        break
    reason = no_clock_reason(listing, "phone")
    return discover_clusters(len(cpus), facts, capacities, max_freqs, cpufreq_reason=reason), commands


class AdbSampler:
    """A background thread; `series` times are on the phone's clock (host time + measured offset)."""

    def __init__(self, link, package: str, clock_offset_s: float, period_s: float, pss_period_s: float,
                 clk_tck: int = 100):
        self.link, self.package, self.offset = link, package, clock_offset_s
        self.period_s, self.pss_period_s, self.clk_tck = period_s, pss_period_s, clk_tck
        self.series = {"t": [], "cpu_s": [], "system_cpu_s": [], "rss_mb": [], "pss_mb": [], "uss_mb": []}
        self.fuel = {"t": [], "current_ua": [], "voltage_uv": []}
        self.vm_hwm_kb: int | None = None
        self.fuel_gauge_readable = True
        self.pid: int | None = None
        self.disconnected: DeviceDisconnected | None = None
        self.commands = 0
        # Where the threads ran: the task list is refreshed at the PSS period, and every sample reads the listed
        # threads' stat files in the same `cat` as the process's, so a sample stays one adb command.
        self.discovery: dict | None = None
        self.tids: list[int] | None = None  # None: not listed yet
        self.task_samples: list[dict] = []
        self.clock_readings: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"adb-sampler-{link.serial}", daemon=True)

    def start(self) -> "AdbSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        if self._thread.ident is not None:  # a run with sampling off never started it
            self._thread.join(timeout=30)
        return self.series

    def _now(self) -> float:
        return time.time() + self.offset

    def _find_pid(self) -> int | None:
        out = self.link.read_text(["pidof", self.package])
        self.commands += 1
        words = (out or "").split()
        return int(words[0]) if words and words[0].isdigit() else None

    def discover(self) -> dict:
        if self.discovery is None:
            self.discovery, commands = discover_phone_clusters(self.link)
            self.commands += commands
        return self.discovery

    def _list_tasks(self) -> None:
        listing = self.link.read_text(["ls", f"/proc/{self.pid}/task"]) or ""
        self.commands += 1
        self.tids = [int(name) for name in listing.split() if name.isdigit()]

    def read_clocks(self) -> None:
        """One reading of every cluster's time_in_state and scaling_cur_freq, in one adb command.

        It is taken at the PSS period, and placement() uses the readings nearest to the measured window's bounds: the
        app announces its phases only in its result, so the sampler cannot read at the bounds themselves."""
        folders = [d for cluster in self.discover()["clusters"] for d in cluster["clock_dirs"]]
        if not folders:
            return
        before = self._now()
        text = self.link.shell(["cat", *clock_files(folders)], check=False)
        self.commands += 1
        try:
            clocks = parse_clock_reading(text, folders)
        except ParseError:
            return
        self.clock_readings.append({"t": (before + self._now()) / 2, "clocks": clocks})

    def placement(self, start: float, end: float, profile: dict) -> dict:
        """Where the app's threads ran in [start, end] and at what clock (cpu_placement.placement_figures)."""
        return placement_figures(self.task_samples, self.discover(), self.clock_readings, start, end, profile)

    def sample_once(self, with_pss: bool) -> bool:
        """One sample; False when the process is gone."""
        if self.pid is None:
            self.pid = self._find_pid()
            if self.pid is None:
                return True
        if with_pss or self.tids is None:
            self._list_tasks()
        before = self._now()
        task_files = [f"/proc/{self.pid}/task/{tid}/stat" for tid in self.tids or []]
        words = ["cat", f"/proc/{self.pid}/stat", "/proc/stat", *task_files]
        # A listed thread may have ended: cat then fails for its file only, so its exit status is not the verdict.
        text = (self.link.shell(words, check=False) if self.tids else self.link.read_text(words)) or ""
        self.commands += 1
        lines = _without_errors(text)
        if len(lines) < 2 or not lines[0].startswith(f"{self.pid} "):
            return False
        task_lines = [line for line in lines[1:] if is_task_stat_line(line)]
        proc_stat = "\n".join(line for line in lines[1:] if not is_task_stat_line(line))
        try:
            ticks = parse_pid_stat_ticks(lines[0])
            rss_pages = parse_pid_stat_rss_pages(lines[0])
            system_ticks = parse_proc_stat_total_ticks(proc_stat)
        except ParseError:
            return False  # a read cut short (the process ended mid-read): skip this sample
        try:
            threads = parse_task_stats(task_lines)
        except ParseError:
            threads = None  # a thread's line cut short: this sample places nothing
        pss_mb = None
        if with_pss:
            try:
                pss_mb = parse_meminfo_totals_kb(self.link.shell(["dumpsys", "meminfo", str(self.pid)],
                                                                 check=False))["pss_kb"] / 1024
            except (NoProcessError, ValueError):
                pss_mb = None
            status = self.link.read_text(["cat", f"/proc/{self.pid}/status"]) or ""
            try:
                hwm = parse_status_kb(status, "VmHWM")
            except ParseError:
                hwm = None
            self.vm_hwm_kb = max(self.vm_hwm_kb or 0, hwm) if hwm is not None else self.vm_hwm_kb
            self.commands += 2
        s, t = self.series, (before + self._now()) / 2
        if threads:
            self.task_samples.append({"t": t, "threads": threads})
        s["t"].append(t)
        s["cpu_s"].append((ticks["utime"] + ticks["stime"]) / self.clk_tck)
        s["system_cpu_s"].append(system_ticks / self.clk_tck)
        s["rss_mb"].append(rss_pages * PAGE_KB / 1024)
        s["pss_mb"].append(pss_mb)
        s["uss_mb"].append(None)
        return True

    def read_fuel_gauge(self) -> None:
        if not self.fuel_gauge_readable:
            return
        values = (self.link.read_text(["cat", *FUEL_GAUGE]) or "").split()
        self.fuel_gauge_readable = len(values) == 2 and all(v.lstrip("-").isdigit() for v in values)
        if self.fuel_gauge_readable:
            self.fuel["t"].append(self._now())
            self.fuel["current_ua"].append(float(values[0]))
            self.fuel["voltage_uv"].append(float(values[1]))

    def _loop(self) -> None:
        next_pss = 0.0
        try:
            self.discover()
            while not self._stop.is_set():
                tic = time.monotonic()
                due = tic >= next_pss
                if not self.sample_once(with_pss=due):
                    break
                if due and self.pid is not None:
                    next_pss = tic + self.pss_period_s
                    self.read_fuel_gauge()  # at the slow period: the gauge itself averages over seconds
                    self.read_clocks()
                self._stop.wait(max(0.0, self.period_s - (time.monotonic() - tic)))
        except DeviceDisconnected as exc:
            self.disconnected = exc
