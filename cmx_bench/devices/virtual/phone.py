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
from cmx_bench.runner.host import NO_PROFILING_ENV, PROFILE_DIR_ENV, RUNTIMES_OVERRIDE_ENV, THROTTLE_ENV

STOCK_RUNTIME_REASON = ("operator profile unavailable on this runtime build: Module.etdump() returned false "
                        "(executorch-android is built without EXECUTORCH_ANDROID_PROFILING; see android_runner/README.md)")
CPUFREQ = ("sys", "devices", "system", "cpu", "cpufreq")
DEFAULT_MAX_KHZ = 1800000  # a profile without [[clusters]] plays one cluster at this top clock
LADDER = (0.3, 0.5, 0.7, 0.85, 1.0)  # the played clock steps, as fractions of a cluster's top clock
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
    throttle_after_s: float | None = None  # a governor throttles this long into the timed phase: runner slowed, ...
    throttle_factor: float = 2.0  # ... by this factor, clocks capped to 1 / factor, thermal status raised, until exit


@dataclass
class AppProcess:
    package: str
    uid: int
    popen: subprocess.Popen
    returncode: int | None = None
    final_cpu_s: float | None = None


class PlayedCpufreq:
    """cpufreq policies played on the host's CPUs: host CPU i is in profile cluster i * nclusters // ncpu.

    Every policy runs at its top clock unless a clock cap is in force; time_in_state is computed on read from the time
    spent at each played clock since the phone started, so its counters advance with wall time as a kernel's do."""

    def __init__(self, profile: dict, ncpu: int, now: float):
        tops = [c["max_khz"] for c in profile.get("clusters", [])] or [DEFAULT_MAX_KHZ]
        members = [[cpu for cpu in range(ncpu) if cpu * len(tops) // ncpu == index] for index in range(len(tops))]
        # Fewer host CPUs than clusters leaves some clusters without a CPU: those are not played.
        self.policies = {f"policy{cpus[0]}": {"cpus": cpus, "max_khz": top, "spent_s": {}}
                         for cpus, top in zip(members, tops) if cpus}
        self.cap: float | None = None
        self._since = now
        self._lock = threading.Lock()

    def policy_of_cpu(self, cpu: int) -> str | None:
        return next((name for name, policy in self.policies.items() if cpu in policy["cpus"]), None)

    def ladder(self, name: str) -> list[int]:
        top = self.policies[name]["max_khz"]
        return sorted({round(top * step) for step in LADDER} | set(self.policies[name]["spent_s"]))

    def current_khz(self, name: str) -> int:
        top = self.policies[name]["max_khz"]
        return top if self.cap is None else round(top * self.cap)

    def _credit(self, now: float) -> None:
        """Book the time since the last change at each policy's current clock."""
        for name, policy in self.policies.items():
            khz = self.current_khz(name)
            policy["spent_s"][khz] = policy["spent_s"].get(khz, 0.0) + max(0.0, now - self._since)
        self._since = now

    def clock_cap(self, fraction: float | None, now: float) -> None:
        if fraction is not None and not 0 < fraction <= 1:
            raise ValueError(f"a clock cap is a fraction of the top clock in (0, 1], not {fraction}")
        with self._lock:
            self._credit(now)
            self.cap = fraction

    def time_in_state_text(self, name: str, now: float) -> str:
        with self._lock:
            self._credit(now)
            spent = self.policies[name]["spent_s"]
            # the kernel counts in 10 ms units
            return "".join(f"{khz} {int(spent.get(khz, 0.0) * 100)}\n" for khz in self.ladder(name))

    def static_files(self, name: str) -> dict[str, str]:
        policy, ladder = self.policies[name], self.ladder(name)
        cpus = " ".join(str(cpu) for cpu in policy["cpus"])
        return {"related_cpus": cpus, "affected_cpus": cpus, "cpuinfo_max_freq": str(policy["max_khz"]),
                "cpuinfo_min_freq": str(ladder[0]), "scaling_max_freq": str(policy["max_khz"]),
                "scaling_min_freq": str(ladder[0]), "scaling_governor": "schedutil",
                "scaling_available_frequencies": " ".join(map(str, ladder))}


def _write_atomic(path: Path, text: str) -> None:
    """Replace a played file whole, so that a read from another shell session never sees it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{threading.get_ident()}")
    temporary.write_text(text)
    os.replace(temporary, path)


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
        self._throttled, self._throttle_timer = False, None
        self.cpufreq = PlayedCpufreq(profile, os.cpu_count() or 1, self.started)
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
        # /proc/stat is the host's, so the phone has the host's CPU count; the profile's clusters are played on them
        # as cpufreq policies (cpuN/cpufreq is mapped onto its policy by fs_path, as the kernel's symlink does).
        ncpu = os.cpu_count() or 1
        for cpu in range(ncpu):
            (self.root / f"sys/devices/system/cpu/cpu{cpu}").mkdir(parents=True, exist_ok=True)
        for name in self.cpufreq.policies:
            folder = self.root.joinpath(*CPUFREQ, name)
            for file, text in self.cpufreq.static_files(name).items():
                _write_atomic(folder / file, f"{text}\n")
        (self.root / "sys/devices/system/cpu/possible").write_text(f"0-{ncpu - 1}\n")

    def clock_cap(self, fraction: float | None) -> None:
        """Play a throttled phone from now on: every cluster at `fraction` of its top clock (None: no cap)."""
        self.cpufreq.clock_cap(fraction, time.monotonic())

    def _cpufreq_path(self, parts: list[str]) -> Path:
        """A cpufreq file: cpuN/cpufreq/... is its policy's folder; the clock files are written as they are read."""
        if parts[4].startswith("cpu") and parts[4][3:].isdigit() and parts[5:6] == ["cpufreq"]:
            policy = self.cpufreq.policy_of_cpu(int(parts[4][3:]))
            if policy is None:
                return self.root / "proc-none" / "missing"
            parts = [*CPUFREQ, policy, *parts[6:]]
        path = self.root.joinpath(*parts)
        policy, rest = (parts[5], parts[6:]) if len(parts) > 5 else (None, [])
        if policy in self.cpufreq.policies and rest in (["scaling_cur_freq"], ["scaling_max_freq"]):
            # A thermal cap lowers both: the governor's limit (scaling_max_freq) and so the clock it runs at.
            _write_atomic(path, f"{self.cpufreq.current_khz(policy)}\n")
        elif policy in self.cpufreq.policies and rest == ["stats", "time_in_state"]:
            _write_atomic(path, self.cpufreq.time_in_state_text(policy, time.monotonic()))
        return path

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
            # the app's threads: /proc/<pid>/task lists them, task/<tid>/stat says where each last ran
            if parts[2:3] == ["task"] and len(parts) in (3, 5) and parts[1].isdigit() \
                    and all(p.isdigit() for p in parts[3:4]) and parts[4:] in ([], ["stat"]) \
                    and self.live_process_by_pid(int(parts[1])):
                return Path("/proc", *parts[1:])
            return self.root / "proc-none" / "missing"
        if tuple(parts[:4]) == CPUFREQ[:4] and len(parts) > 5:
            return self._cpufreq_path(parts)
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
                                      **({} if self.profiling else {NO_PROFILING_ENV: STOCK_RUNTIME_REASON}),
                                      **self._throttle_env()})
        process = AppProcess(package, self.packages[package]["uid"], popen)
        with self._lock:
            self.processes.append(process)
            self._stats_cpu[popen.pid] = 0.0
        threading.Thread(target=self._follow_output, args=(process,), daemon=True).start()
        threading.Thread(target=self._reap, args=(process,), daemon=True).start()
        if self.on_runner_start:
            self.on_runner_start()
        return process

    def _throttle_env(self) -> dict:
        faults = self.faults
        if faults.throttle_after_s is None:
            return {}
        return {THROTTLE_ENV: json.dumps({"after_s": faults.throttle_after_s, "factor": faults.throttle_factor})}

    def _throttle_later(self) -> None:
        """The runner began timing: throttle the phone as the runner slows itself (THROTTLE_ENV), at the same moment."""
        def throttle():
            with self._lock:
                if self._throttle_timer is not timer:  # the run ended before its throttling began
                    return
                self._throttled = True
                self.clock_cap(1 / self.faults.throttle_factor)

        timer = threading.Timer(self.faults.throttle_after_s, throttle)
        timer.daemon = True
        with self._lock:
            self._throttle_timer = timer
        timer.start()

    def _follow_output(self, process: AppProcess) -> None:
        with open(self.state_dir / "logcat.txt", "ab") as log:
            for line in process.popen.stdout:
                log.write(f"I/cmx-runner({process.popen.pid}): ".encode() + line)
                if self.faults.throttle_after_s is not None and line.strip() == b"CMX-PHASE measure_start":
                    self._throttle_later()
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
        with self._lock:
            if self._throttle_timer is not None:  # the run is over: so is its throttling
                self._throttle_timer.cancel()
                self._throttle_timer, self._throttled = None, False
                self.clock_cap(None)

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
        return self.faults.thermal_status if self._throttled or time.monotonic() < self._hot_until else 0

    def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                try:
                    os.kill(process.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
