"""The host as a device: the reference runner in a child process, sampled with psutil."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil

from cmx_bench.devices.base import Device, DeviceRun, RunSettings
from cmx_bench.errors import RunnerError
from cmx_bench.fileio import write_json_atomic
from cmx_bench.hostinfo import cpu_model
from cmx_bench.measure import rapl
from cmx_bench.measure.energy import energy_figure, power_model_energy_mj
from cmx_bench.measure.host_sampler import HostProcessSampler
from cmx_bench.measure.summary import cpu_figures, memory_figures
from cmx_bench.measure.sustained import PeriodicReader
from cmx_bench.runner.host import PHASE_PREFIX, runtime_versions
from cmx_bench.runner.protocol import validate


def host_temperature_c() -> float | None:
    try:
        readings = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        return None
    values = [entry.current for entries in readings.values() for entry in entries if entry.current]
    return max(values) if values else None


def host_cpufreq_khz(name: str = "scaling_cur_freq") -> list[int | None] | None:
    """A cpufreq file of every CPU, or None where the host has no cpufreq (virtual machines)."""
    values = []
    for cpu in range(os.cpu_count() or 0):
        try:
            values.append(int(Path(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/{name}").read_text()))
        except (OSError, ValueError):
            values.append(None)
    return values if any(v is not None for v in values) else None


def host_reading() -> dict:
    """What a sustained run reads every few seconds: a host has no thermal status, only sensors and clocks (and the
    highest clock each CPU's policy allows now, which thermal limits lower)."""
    return {"thermal_status": None, "temperature_c": host_temperature_c(), "cpufreq_khz": host_cpufreq_khz(),
            "max_freq_khz": host_cpufreq_khz("scaling_max_freq")}


# A sustained run reads the thermal state every few seconds: often enough to date throttling within that.
READING_PERIOD_S = 2.0


def _governor() -> str | None:
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        return None


def local_energy(series: dict, cpu: dict, profile: dict, iterations: int, start: float, end: float) -> dict:
    """RAPL package energy when readable, else the profile's power model; always labelled."""
    window = end - start
    if "rapl_uj" in series and len(series["rapl_uj"]) >= 2:
        import numpy as np

        counter = np.asarray(series["rapl_uj"], dtype=float)
        wraps = np.concatenate([[0.0], np.cumsum(np.diff(counter) < 0)])
        unwrapped = counter + wraps * rapl.max_range_uj(rapl.readable_domains())
        energy_mj = (np.interp(end, series["t"], unwrapped) - np.interp(start, series["t"], unwrapped)) / 1e3
        method = "rapl_package"
        note = "RAPL package counters: the whole CPU package, not only the runner process"
    else:
        core_w = profile["power_model"]["core_active_w"]
        energy_mj = power_model_energy_mj(cpu["cpu_seconds"], core_w)
        method = "power_model"
        note = f"estimate: runner CPU time x {core_w} W per busy core (device profile '{profile['name']}'); no RAPL here"
    return energy_figure(method, note, energy_mj, window, iterations, profile["energy_class"])


# PSS baseline before the load and at the end of timing; the 2 s periodic reads fill the middle (a read costs ~13 ms).
PSS_PHASES = {b"ready", b"measure_end"}


def _follow_phases(stream, sampler: HostProcessSampler) -> None:
    """Read the runner's phase announcements and have the sampler take a PSS reading at the ones that matter."""
    for line in stream:
        words = line.split()
        if len(words) == 2 and words[0] == PHASE_PREFIX.encode():
            sampler.phase_reached(words[1].decode(), read_pss=words[1] in PSS_PHASES)
    stream.close()


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


class LocalDevice(Device):
    def __init__(self, profile: dict):
        self.profile = profile
        self.serial = "local"

    def facts(self) -> dict:
        freq = psutil.cpu_freq()
        return {
            "kind": "local", "serial": "local", "model": cpu_model(), "abi": platform.machine(),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "ncpu": os.cpu_count(), "governor": _governor(),
            "cpu_freq_mhz": round(freq.current, 1) if freq else None,
            "memory_total_mb": round(psutil.virtual_memory().total / 2**20),
            "thermal_status": None, "temperature_c": host_temperature_c(),
        }

    def runtimes(self) -> dict:
        return {**runtime_versions(), "reported_by": "host runner (installed packages)"}

    def run(self, artifact: Path, inputs: list[Path], job: dict, settings: RunSettings, workdir: Path) -> DeviceRun:
        job_path, result_path = workdir / "job.json", workdir / "result.json"
        if settings.sampling:
            job = {**job, "hold_s": max(job.get("hold_s", 0.0), settings.hold_s)}
        write_json_atomic(job_path, job)
        thermal = {"before_c": host_temperature_c()}
        command = [sys.executable, "-m", "cmx_bench.runner", str(job_path), str(result_path)]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        with tempfile.TemporaryFile() as stderr_file:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr_file, env=env, cwd=workdir)
            sampler = HostProcessSampler(process.pid, settings.sample_period_s, settings.pss_period_s,
                                         announce_phases=True)
            listener = threading.Thread(target=_follow_phases, args=(process.stdout, sampler), daemon=True)
            listener.start()
            if settings.sampling:
                sampler.start()
            reader = PeriodicReader(host_reading, READING_PERIOD_S).start() if settings.sustained_s else None
            try:
                process.wait(timeout=settings.timeout_s)
            except subprocess.TimeoutExpired:
                _stop(process)
                raise RunnerError(f"host runner did not finish within {settings.timeout_s:.0f} s; raise --timeout "
                                  "or lower --iters / --min-duration")
            except BaseException:
                # Ctrl-C reaches the runner too (one process group); SIGTERM, or an interrupt raised in a fleet
                # worker, reaches only this process: the runner must not outlive its work folder.
                _stop(process)
                raise
            finally:
                series = sampler.stop() if settings.sampling else sampler.series
                readings = reader.stop() if reader else {}
                listener.join(timeout=5)
            stderr_file.seek(0)
            stderr = stderr_file.read()
        thermal["after_c"] = host_temperature_c()
        if not result_path.is_file():
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RunnerError(f"host runner exited with code {process.returncode} and no result ({tail[0][:160]})")
        result = validate(json.loads(result_path.read_text()), "result", str(result_path))
        profile = result.get("profile") or {}
        run = DeviceRun(runner_result=result, series=series, thermal=thermal, readings=readings,
                        profile_file=workdir / profile["file"] if profile.get("status") == "written" else None,
                        sampler={"period_s": settings.sample_period_s, "pss_period_s": settings.pss_period_s,
                                 "samples": len(series["t"]), "sampler_cpu_s": sampler.self_cpu_s,
                                 "enabled": settings.sampling})
        if result["status"] == "ok" and settings.sampling and len(series["t"]) >= 2:
            phases = result["phases"]
            start, end = phases["measure_start"], phases["measure_end"]
            run.cpu = cpu_figures(series, start, end, os.cpu_count() or 1)
            run.memory = memory_figures(series, phases["load_start"], phases["load_end"], phases["end"])
            run.energy = local_energy(series, run.cpu, self.profile, len(result["latencies_ms"]), start, end)
            run.placement = sampler.placement(start, end, self.profile)
        return run
