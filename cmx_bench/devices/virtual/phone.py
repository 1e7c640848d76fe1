"""The virtual phone's state: file system, properties, packages, processes, battery and thermal state, faults."""

from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cmx_bench.devices.virtual import android_commands
from cmx_bench.devices.virtual.toy_shell import Outcome, ToyShell, file_commands
from cmx_bench.export.runtime_pins import pinned_runtimes
from cmx_bench.measure.linux_proc import parse_pid_stat_ticks
from cmx_bench.runner.host import NO_PROFILING_ENV, PROFILE_DIR_ENV, RUNTIMES_OVERRIDE_ENV

STOCK_RUNTIME_REASON = ("operator profile unavailable on this runtime build: Module.etdump() returned false "
                        "(executorch-android is built without EXECUTORCH_ANDROID_PROFILING; see android_runner/README.md)")
FIRST_APP_UID = 10123  # app UIDs start at 10000; any value in that range reads as u0aNNN in batterystats
DEFAULT_FREE_BYTES = 50 * 2**30


@dataclass
class Faults:
    """Fault injection: each one is off by default."""

    drop_after_s: float | None = None  # cut the connection this long after the runner app starts ...
    drop_on_run: int = 1  # ... for the N-th time
    offline_for_s: float | None = None  # ... and accept connections again after this long (None: never)
    runner_crash: bool = False  # the runner process dies (SIGKILL) once its model is loaded
    storage_free_mb: float | None = None  # free space on /data; pushes beyond it fail
    transfer_kbps: float | None = None  # slow sync transfers to this rate
    battery_level: int = 85
    thermal_status: int = 2  # reported while the phone is hot, 0 otherwise
    hot_for_s: float = 0.0  # hot for this long after the phone starts
    hot_after_run_s: float = 0.0  # hot for this long after each runner process ends (a run heats the phone)


@dataclass
class AppProcess:
    package: str
    uid: int
    popen: subprocess.Popen
    returncode: int | None = None
    final_cpu_s: float | None = None


def process_cpu_seconds(pid: int) -> float:
    ticks = parse_pid_stat_ticks(Path(f"/proc/{pid}/stat").read_text())
    return (ticks["utime"] + ticks["stime"]) / os.sysconf("SC_CLK_TCK")


class VirtualPhone:
    """Everything the adb services of the virtual device act on; all files live under `state_dir/fs`."""

    def __init__(self, profile: dict, state_dir: Path, serial: str, faults: Faults | None = None,
                 runtimes: dict[str, str] | None = None, profiling: bool = True):
        self.profile, self.serial, self.faults = profile, serial, faults or Faults()
        # The runtimes the stand-in app reports, as an app built with them would: the pinned ones unless told.
        self.runtimes = {**pinned_runtimes(), **(runtimes or {})}
        # A stock executorch-android is built without EXECUTORCH_ANDROID_PROFILING: its Module.etdump() gives false.
        self.profiling = profiling
        self.state_dir = Path(state_dir)
        self.root = (self.state_dir / "fs").resolve()
        self.started = time.monotonic()
        self.packages: dict[str, dict] = {}
        self.processes: list[AppProcess] = []
        self.battery = {"level": self.faults.battery_level, "usb": True, "ac": False, "updates_stopped": False}
        self._battery_default = dict(self.battery)
        self._used_bytes = 0
        self._lock = threading.RLock()
        self._stats_cpu: dict[int, float] = {}  # pid -> CPU seconds already counted by batterystats
        self.stats_accrued_cpu_s: dict[int, float] = {}  # uid -> CPU seconds while on battery since reset
        self.on_runner_start = None  # set by the device server: starts the drop-connection timer
        self._hot_until = self.started + self.faults.hot_for_s
        self.shell_log = self.state_dir / "shell.log"
        self._make_file_system()
        commands, write_file = file_commands(self.fs_path, cwd=lambda: self.shell.cwd)
        self.shell = ToyShell({**commands, **android_commands.commands(self)}, write_file,
                              is_dir=lambda path: self.fs_path(path).is_dir())

    # ---- properties -------------------------------------------------------------------------------
    def properties(self) -> dict[str, str]:
        match, android = self.profile.get("match", {}), self.profile.get("android", {})
        model = (match.get("product_model") or [self.profile.get("display_name", self.profile["name"])])[0]
        device = (match.get("product_device") or [self.profile["name"]])[0]
        return {
            "ro.product.name": device, "ro.product.model": model, "ro.product.device": device,
            "ro.product.manufacturer": android.get("manufacturer", "Google"),
            "ro.product.cpu.abi": android.get("abi", "arm64-v8a"),
            "ro.build.version.release": str(android.get("release", "11")),
            "ro.build.version.sdk": str(android.get("sdk", 30)),
            "ro.serialno": self.serial, "ro.debuggable": "1",
            "ro.cmx_bench.virtual": "1",  # so that records say the figures are the host's, played by a virtual phone
        }

    def _make_file_system(self) -> None:
        for folder in ("data/local/tmp", "sdcard", "system/bin"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        # /proc/stat is the host's, so the phone has the host's CPU count (the profile's clusters give frequencies).
        max_khz = max((c["max_khz"] for c in self.profile.get("clusters", [])), default=1800000)
        ncpu = os.cpu_count() or 1
        for cpu in range(ncpu):
            folder = self.root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "scaling_cur_freq").write_text(f"{max_khz}\n")
            (folder / "scaling_governor").write_text("schedutil\n")
        (self.root / "sys/devices/system/cpu/possible").write_text(f"0-{ncpu - 1}\n")

    # ---- file system ------------------------------------------------------------------------------
    def fs_path(self, device_path: str, cwd: str = "/") -> Path:
        """Map a device path into the phone's folder; /proc/stat and the phone's own processes come from the host."""
        normal = posixpath.normpath(posixpath.join(cwd, device_path))
        parts = [p for p in normal.split("/") if p]
        if parts[:1] == ["proc"]:
            if parts[1:] == ["stat"]:
                return Path("/proc/stat")
            if len(parts) == 3 and parts[2] in ("stat", "status") and parts[1].isdigit() \
                    and self.live_process_by_pid(int(parts[1])):
                return Path(f"/proc/{parts[1]}/{parts[2]}")
            return self.root / "proc-none" / "missing"
        return self.root.joinpath(*parts)

    def storage_allows(self, extra_bytes: int) -> bool:
        return self.free_bytes() >= extra_bytes

    def storage_used(self, nbytes: int) -> None:
        with self._lock:
            self._used_bytes += nbytes

    def free_bytes(self) -> int:
        limit = self.faults.storage_free_mb
        total = DEFAULT_FREE_BYTES if limit is None else int(limit * 2**20)
        return max(0, total - self._used_bytes) if limit is not None else total

    def throttle_transfer(self, written: int, started: float) -> None:
        if self.faults.transfer_kbps:
            due = written / (self.faults.transfer_kbps * 1024)
            delay = due - (time.monotonic() - started)
            if delay > 0:
                time.sleep(delay)

    # ---- shell --------------------------------------------------------------------------------------
    def run_shell(self, line: str) -> Outcome:
        with open(self.shell_log, "a") as log:
            log.write(line.replace("\n", "\\n") + "\n")
        return self.shell.run(line)

    def next_app_uid(self) -> int:
        return FIRST_APP_UID + len(self.packages)

    # ---- processes ------------------------------------------------------------------------------
    def live_processes(self, package: str) -> list[AppProcess]:
        return [p for p in self.processes if p.package == package and p.returncode is None]

    def live_process_by_pid(self, pid: int) -> AppProcess | None:
        return next((p for p in self.processes if p.popen.pid == pid and p.returncode is None), None)

    def start_runner(self, package: str, job_path: Path, result_path: Path) -> AppProcess:
        """The stand-in app: the host reference runner on the pushed job (same protocol as the Java app)."""
        result_path.parent.mkdir(parents=True, exist_ok=True)
        popen = subprocess.Popen([sys.executable, "-m", "cmx_bench.runner", str(job_path), str(result_path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.root,
                                 env={**os.environ, "PYTHONWARNINGS": "ignore",
                                      RUNTIMES_OVERRIDE_ENV: json.dumps(self.runtimes),
                                      # as the app: its ETDump goes to its own files folder, read back with run-as
                                      PROFILE_DIR_ENV: str(result_path.parent),
                                      **({} if self.profiling else {NO_PROFILING_ENV: STOCK_RUNTIME_REASON})})
        process = AppProcess(package, self.packages[package]["uid"], popen)
        with self._lock:
            self.processes.append(process)
            self._stats_cpu[popen.pid] = 0.0
        threading.Thread(target=self._follow_output, args=(process,), daemon=True).start()
        threading.Thread(target=self._reap, args=(process,), daemon=True).start()
        if self.on_runner_start:
            self.on_runner_start()
        return process

    def _follow_output(self, process: AppProcess) -> None:
        with open(self.state_dir / "logcat.txt", "ab") as log:
            for line in process.popen.stdout:
                log.write(f"I/cmx-runner({process.popen.pid}): ".encode() + line)
                if self.faults.runner_crash and line.strip() == b"CMX-PHASE load_end":
                    log.write(f"F/libc({process.popen.pid}): Fatal signal 11 (SIGSEGV) (virtual fault)\n".encode())
                    os.kill(process.popen.pid, signal.SIGKILL)

    def _reap(self, process: AppProcess) -> None:
        # wait4 gives the CPU time of a finished process, which batterystats still needs to count.
        _, status, usage = os.wait4(process.popen.pid, 0)
        with self._lock:
            self._count_battery_cpu()
            process.final_cpu_s = usage.ru_utime + usage.ru_stime
            self._count_battery_cpu(final=process)
            process.returncode = process.popen.returncode = os.waitstatus_to_exitcode(status)
            self._hot_until = max(self._hot_until, time.monotonic() + self.faults.hot_after_run_s)

    def cpu_seconds(self, process: AppProcess) -> float:
        if process.final_cpu_s is not None:
            return process.final_cpu_s
        try:
            return process_cpu_seconds(process.popen.pid)
        except (OSError, ValueError):  # gone, or a stat read cut short (ParseError)
            return self._stats_cpu.get(process.popen.pid, 0.0)

    def force_stop(self, package: str) -> None:
        for process in self.live_processes(package):
            try:
                os.kill(process.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ---- battery and batterystats ---------------------------------------------------------------
    def on_battery(self) -> bool:
        return not (self.battery["usb"] or self.battery["ac"])

    def _count_battery_cpu(self, final: AppProcess | None = None) -> None:
        """Credit CPU time to each UID; BatteryStats only accumulates while the phone runs on battery."""
        for process in [final] if final else [p for p in self.processes if p.returncode is None]:
            now = self.cpu_seconds(process)
            delta = now - self._stats_cpu.get(process.popen.pid, 0.0)
            self._stats_cpu[process.popen.pid] = now
            if self.on_battery() and delta > 0:
                self.stats_accrued_cpu_s[process.uid] = self.stats_accrued_cpu_s.get(process.uid, 0.0) + delta

    def battery_changed(self, **changes) -> None:
        with self._lock:
            self._count_battery_cpu()
            self.battery.update(changes)

    def battery_reset(self) -> None:
        with self._lock:
            self._count_battery_cpu()
            self.battery = dict(self._battery_default)

    def batterystats_reset(self) -> None:
        with self._lock:
            self._count_battery_cpu()
            self.stats_accrued_cpu_s = {}

    def batterystats_mah(self) -> dict[int, float]:
        with self._lock:
            self._count_battery_cpu()
            core_w = self.profile.get("power_model", {}).get("core_active_w", 1.0)
            volts = self.profile.get("battery_voltage_v", 3.85)
            return {uid: cpu_s * core_w / volts / 3.6 for uid, cpu_s in self.stats_accrued_cpu_s.items()}

    def thermal_status(self) -> int:
        return self.faults.thermal_status if time.monotonic() < self._hot_until else 0

    def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                try:
                    os.kill(process.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
