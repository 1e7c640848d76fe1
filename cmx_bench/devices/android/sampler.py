"""Sample the runner app over adb while it runs: CPU ticks, RSS, PSS (dumpsys meminfo), VmHWM, fuel gauge."""

from __future__ import annotations

import threading
import time

from cmx_bench.devices.android.adb_link import DeviceDisconnected
from cmx_bench.errors import ParseError
from cmx_bench.measure.android_dumpsys import NoProcessError, parse_meminfo_totals_kb
from cmx_bench.measure.linux_proc import (parse_pid_stat_rss_pages, parse_pid_stat_ticks, parse_proc_stat_total_ticks,
                                         parse_status_kb)

PAGE_KB = 4  # /proc/<pid>/stat's rss is in pages; Android phones use 4 KiB pages
FUEL_GAUGE = ["/sys/class/power_supply/battery/current_now", "/sys/class/power_supply/battery/voltage_now"]


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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"adb-sampler-{link.serial}", daemon=True)

    def start(self) -> "AdbSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.series

    def _now(self) -> float:
        return time.time() + self.offset

    def _find_pid(self) -> int | None:
        out = self.link.read_text(["pidof", self.package])
        self.commands += 1
        words = (out or "").split()
        return int(words[0]) if words and words[0].isdigit() else None

    def sample_once(self, with_pss: bool) -> bool:
        """One sample; False when the process is gone."""
        if self.pid is None:
            self.pid = self._find_pid()
            if self.pid is None:
                return True
        before = self._now()
        text = self.link.read_text(["cat", f"/proc/{self.pid}/stat", "/proc/stat"]) or ""
        self.commands += 1
        lines = text.splitlines()
        if len(lines) < 2 or not lines[0].startswith(f"{self.pid} "):
            return False
        try:
            ticks = parse_pid_stat_ticks(lines[0])
            rss_pages = parse_pid_stat_rss_pages(lines[0])
            system_ticks = parse_proc_stat_total_ticks("\n".join(lines[1:]))
        except ParseError:
            return False  # a read cut short (the process ended mid-read): skip this sample
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
        s = self.series
        s["t"].append((before + self._now()) / 2)
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
            while not self._stop.is_set():
                tic = time.monotonic()
                due = tic >= next_pss
                if not self.sample_once(with_pss=due):
                    break
                if due and self.pid is not None:
                    next_pss = tic + self.pss_period_s
                    self.read_fuel_gauge()  # at the slow period: the gauge itself averages over seconds
                self._stop.wait(max(0.0, self.period_s - (time.monotonic() - tic)))
        except DeviceDisconnected as exc:
            self.disconnected = exc
