"""An Android phone as a Device: pre-checks, cooldown, push, the runner app, samplers, energy, restore."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from cmx_bench.devices.android import restore, runner_app
from cmx_bench.devices.android.adb_link import PhoneLink
from cmx_bench.devices.android.discovery import describe, phone_state
from cmx_bench.devices.android.sampler import AdbSampler
from cmx_bench.devices.android.settings import AndroidSettings
from cmx_bench.devices.base import Device, DeviceRun, RunSettings
from cmx_bench.errors import DeviceError, RunnerError
from cmx_bench.fileio import sha256_file, write_bytes_atomic, write_json_atomic
from cmx_bench.measure.android_dumpsys import (parse_batterystats_uid_mah, parse_cpu_possible, parse_df_available_kb,
                                               parse_power_rails_mj)
from cmx_bench.measure.energy import energy_figure, fuel_gauge_energy_mj, mah_to_mj, power_model_energy_mj
from cmx_bench.measure.summary import cpu_figures, memory_figures
from cmx_bench.measure.sustained import PeriodicReader
from cmx_bench.runner.protocol import validate

POWER_STATS = "android.hardware.power.stats.IPowerStats/default"
STORAGE_MARGIN_KB = 20 * 1024
POLL_S = 0.5
READING_PERIOD_S = 2.0  # a sustained run's thermal readings: four adb commands each, so every few seconds


class AndroidDevice(Device):
    def __init__(self, link: PhoneLink, profile: dict, android: AndroidSettings = AndroidSettings()):
        self.link, self.profile, self.android = link, profile, android
        self.device_dir = android.device_dir.rstrip("/") or "/"
        self.serial = link.serial
        self._facts: dict | None = None
        self._runtimes: dict | None = None
        self._first_install: dict | None = None

    def runtimes(self) -> dict:
        if self._runtimes is None:
            # The app must be there to say what it carries; the first run's record reports this install.
            self._first_install = runner_app.ensure_installed(self.link, self.android.apk)
            self._runtimes = runner_app.describe_runtimes(self.link)
        return self._runtimes

    def facts(self) -> dict:
        if self._facts is None:
            self._facts = describe(self.link)
            possible = self.link.read_text(["cat", "/sys/devices/system/cpu/possible"])
            self._facts["ncpu"] = parse_cpu_possible(possible) if possible else None
        return self._facts

    # ---- before the run -------------------------------------------------------------------------
    def _precheck(self, needed_bytes: int) -> dict:
        settings = self.android  # the bounds the user set for this phone
        state = phone_state(self.link)
        problems = []
        level = state["battery_level_pct"]
        if level is not None and level < settings.min_battery_pct and not state["charging"]:
            problems.append(f"battery at {level}% and not charging (minimum {settings.min_battery_pct}%); charge it")
        free_kb = parse_df_available_kb(self.link.shell(["df", "-k", "/data/local/tmp"], check=False))
        if free_kb is not None and free_kb < needed_bytes // 1024 + STORAGE_MARGIN_KB:
            problems.append(f"only {free_kb // 1024} MB free on /data, {needed_bytes // 2**20 + 20} MB needed; "
                            "free some space")
        if problems and not settings.force:
            raise DeviceError(f"{self.serial} ({self.name}) is not ready: {'; '.join(problems)}; or pass --force")
        return {**state, "free_storage_kb": free_kb, "precheck_problems": problems, "forced": bool(problems)}

    def _cooldown(self) -> dict:
        """Wait until thermal status is 0 and skin/CPU temperature is under the profile's limit, within a bound."""
        limit = self.profile["thermal"]["max_start_temp_c"]
        settings = self.android
        bound = self.profile["thermal"]["cooldown_max_s"] if settings.cooldown_max_s is None else settings.cooldown_max_s
        started = time.monotonic()
        while True:
            state = phone_state(self.link)
            temperature = state["skin_temperature_c"] or state["cpu_temperature_c"]
            cool = (state["thermal_status"] or 0) == 0 and (temperature is None or temperature < limit)
            waited = time.monotonic() - started
            if cool:
                return {"cooled": True, "waited_s": waited, **state}
            if waited >= bound:
                if settings.force:
                    return {"cooled": False, "waited_s": waited, **state}
                raise DeviceError(f"{self.serial} stayed hot for {bound:.0f} s (thermal status "
                                  f"{state['thermal_status']}, {temperature} C, limit {limit} C); let it cool, raise "
                                  "--cooldown-max, or pass --force")
            time.sleep(min(5.0, max(0.5, bound / 20)))

    def _push_if_changed(self, local: Path, remote: str) -> dict:
        digest = sha256_file(local)
        have = self.link.read_text(["sha256sum", remote])
        if have and have.split()[0] == digest:
            return {"path": remote, "pushed": False, "seconds": 0.0}
        return {"path": remote, "pushed": True, "seconds": self.link.push(local, remote)}

    def _cpufreq_khz(self, name: str = "scaling_cur_freq") -> list[int | None]:
        """A cpufreq file of every CPU now, index n for CPU n (a throttled phone shows lower clocks before or after a
        run; thermal limits lower scaling_max_freq)."""
        files = [f"/sys/devices/system/cpu/cpu{n}/cpufreq/{name}" for n in range(self.facts()["ncpu"] or 0)]
        values = [line.strip() for line in (self.link.shell(["cat", *files], check=False) if files else "").splitlines()
                  if line.strip().isdigit()]
        if len(values) != len(files):
            # An offline CPU has no cpufreq folder: one file at a time, so that each value stays with its CPU.
            values = [(self.link.read_text(["cat", path]) or "").strip() for path in files]
        return [int(v) if v.isdigit() else None for v in values]

    def _reading(self) -> dict:
        """What a sustained run reads every few seconds (three adb commands): the thermal status, the skin
        temperature (else the CPU's), every CPU's clock and the highest clock its policy allows now."""
        state = phone_state(self.link)
        return {"thermal_status": state["thermal_status"],
                "temperature_c": state["skin_temperature_c"] or state["cpu_temperature_c"],
                "cpufreq_khz": self._cpufreq_khz() or None,
                "max_freq_khz": self._cpufreq_khz("scaling_max_freq") or None}

    def _clock_offset_s(self) -> float:
        tic = time.time()
        out = self.link.read_text(["date", "+%s.%N"]) or ""
        toc = time.time()
        try:
            return float(out.strip()) - (tic + toc) / 2
        except ValueError:
            return 0.0

    # ---- the run ----------------------------------------------------------------------------------
    def _stage(self, artifact: Path, inputs: list[Path], job: dict, workdir: Path) -> dict:
        """Push the artifact, inputs (unless the phone has them) and the job; returns the job's path and the pushes."""
        link = self.link
        link.shell(["mkdir", "-p", f"{self.device_dir}/artifacts", f"{self.device_dir}/inputs", f"{self.device_dir}/jobs"])
        artifact_name = f"artifacts/{sha256_file(artifact)[:16]}-{artifact.name}"
        pushes = [self._push_if_changed(artifact, f"{self.device_dir}/{artifact_name}")]
        input_names = []
        for path in inputs:
            name = f"inputs/{sha256_file(path)[:16]}.f32"
            pushes.append(self._push_if_changed(path, f"{self.device_dir}/{name}"))
            input_names.append(f"../{name}")
        token = uuid.uuid4().hex[:12]
        # Paths are relative to the job file, so the app (and the virtual phone) need no host paths.
        device_job = {**job, "artifact": f"../{artifact_name}", "inputs": input_names,
                      "settle_s": max(job.get("settle_s", 0.0), self.android.settle_s),
                      # a PSS read lands after timing even when the timed phase is shorter than the PSS period
                      "hold_s": self.android.pss_period_s + 0.5}
        if job.get("profile_iterations"):
            device_job["profile_file"] = f"profile-{token}.etdump"
        job_local = write_json_atomic(workdir / f"job-{token}.json", validate(device_job, "job", "cmx-bench"))
        job_remote = f"{self.device_dir}/jobs/job-{token}.json"
        link.push(job_local, job_remote)
        return {"job": job_remote, "result_name": f"result-{token}.json", "pushes": pushes, "token": token}

    def run(self, artifact: Path, inputs: list[Path], job: dict, settings: RunSettings, workdir: Path) -> DeviceRun:
        link, facts = self.link, self.facts()
        needed = artifact.stat().st_size + sum(p.stat().st_size for p in inputs)
        precheck = self._precheck(needed)
        app, self._first_install = self._first_install or runner_app.ensure_installed(link, self.android.apk), None
        staged = self._stage(artifact, inputs, job, workdir)
        job_remote, result_name, pushes = staged["job"], staged["result_name"], staged["pushes"]
        cooldown = self._cooldown()  # ends with the state just read: the thermal state before the run
        thermal_before = {key: cooldown[key] for key in cooldown if key not in ("cooled", "waited_s")}
        thermal_before["cpufreq_khz"] = self._cpufreq_khz()
        sampler = reader = None
        energy_reads: dict = {}
        try:
            restore.remember(self.serial, [["dumpsys", "battery", "reset"], ["am", "force-stop", runner_app.PACKAGE]])
            # BatteryStats only accumulates on battery: unplug (in software) and reset, restore afterwards.
            link.shell(["dumpsys", "battery", "unplug"], check=False)
            link.shell(["dumpsys", "batterystats", "--reset"], check=False)
            energy_reads["rails_before"] = parse_power_rails_mj(link.shell(["dumpsys", POWER_STATS], check=False))
            offset = self._clock_offset_s()
            sampler = AdbSampler(link, runner_app.PACKAGE, offset, settings.sample_period_s, self.android.pss_period_s)
            if settings.sustained_s:
                reader = PeriodicReader(self._reading, READING_PERIOD_S, clock=lambda: time.time() + offset)
            runner_app.launch(link, job_remote, result_name)
            if settings.sampling:
                sampler.start()
            if reader:
                reader.start()
            result = self._wait_for_result(result_name, settings, sampler)
            series = sampler.stop() if settings.sampling else sampler.series
            readings = reader.stop() if reader else {}
            if sampler.disconnected:
                raise sampler.disconnected
            energy_reads["rails_after"] = parse_power_rails_mj(link.shell(["dumpsys", POWER_STATS], check=False))
            energy_reads["batterystats"] = link.shell(["dumpsys", "batterystats"], check=False)
            thermal_after = {**phone_state(link), "cpufreq_khz": self._cpufreq_khz()}
            profile_file = self._pull_profile(result, staged, workdir)
            restore.restore(link)
            link.shell(["run-as", runner_app.PACKAGE, "rm", "-f", f"files/{result_name}"], check=False)
            link.shell(["rm", "-f", job_remote], check=False)
        except BaseException:
            if sampler is not None:
                sampler.stop()
            if reader is not None:
                reader.stop()
            try:
                restore.restore(link)  # Ctrl-C and errors too; if the phone is gone the journal waits for it
            except DeviceError:
                pass
            raise
        result = validate(result, "result", f"the runner app on {self.serial}")
        run = DeviceRun(runner_result=result, series=series, profile_file=profile_file, readings=readings,
                        thermal={"before": thermal_before, "after": thermal_after, "cooldown": cooldown,
                                 "before_c": thermal_before["skin_temperature_c"],
                                 "after_c": thermal_after["skin_temperature_c"]},
                        sampler={"period_s": settings.sample_period_s, "pss_period_s": self.android.pss_period_s,
                                 "samples": len(series["t"]), "adb_commands": sampler.commands,
                                 "clock_offset_s": offset, "enabled": settings.sampling, "precheck": precheck,
                                 "pushes": pushes, "runner_app": app})
        if result["status"] == "ok" and settings.sampling and len(series["t"]) >= 2:
            phases = result["phases"]
            run.cpu = cpu_figures(series, phases["measure_start"], phases["measure_end"], facts.get("ncpu") or 1)
            run.cpu["conventions"] = ("cpu_device_pct: Android Studio (share of all cores, 0-100); "
                                      "cpu_core_pct: toybox top (100 = one core)")
            run.memory = memory_figures(series, phases["load_start"], phases["load_end"], phases["end"])
            run.memory["vm_hwm_mb"] = sampler.vm_hwm_kb / 1024 if sampler.vm_hwm_kb else None
            run.memory["pss_source"] = "dumpsys meminfo TOTAL PSS"
            run.energy = self._energy(result, run.cpu, energy_reads, sampler, app)
            run.placement = sampler.placement(phases["measure_start"], phases["measure_end"], self.profile)
        return run

    def _pull_profile(self, result: dict, staged: dict, workdir: Path) -> Path | None:
        """The runner's ETDump, copied to the host and removed from the phone; None when none was written."""
        profile = result.get("profile") or {}
        if profile.get("status") != "written":
            return None
        local = workdir / f"profile-{staged['token']}.etdump"
        if profile.get("location") == "app_files":
            # The app may write only inside its own files folder: read it back as the app, like the result.
            own = f"files/{profile['file']}"
            data = self.link.read_bytes(["run-as", runner_app.PACKAGE, "cat", own])
            self.link.shell(["run-as", runner_app.PACKAGE, "rm", "-f", own], check=False)
            return write_bytes_atomic(local, data) if data else None
        remote = f"{self.device_dir}/jobs/{profile['file']}"
        self.link.pull(remote, local)
        self.link.shell(["rm", "-f", remote], check=False)
        return local

    def _wait_for_result(self, result_name: str, settings: RunSettings, sampler: AdbSampler) -> dict:
        deadline = time.monotonic() + settings.timeout_s
        gone_since = None
        while time.monotonic() < deadline:
            if sampler.disconnected:
                raise sampler.disconnected
            result = runner_app.read_result(self.link, result_name)
            if result is not None:
                return result
            alive = self.link.read_text(["pidof", runner_app.PACKAGE])
            if alive:
                gone_since = None
            else:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > 2.0:  # a moment for the result file to land after exit
                    raise RunnerError(f"the runner app on {self.serial} died without a result (a crash?); see "
                                      f"'adb -s {self.serial} logcat -b crash'")
            time.sleep(POLL_S)
        self.link.shell(["am", "force-stop", runner_app.PACKAGE], check=False)
        raise RunnerError(f"the runner app on {self.serial} gave no result within {settings.timeout_s:.0f} s; raise "
                          "--timeout or lower --iters / --min-duration")

    def _energy(self, result: dict, cpu: dict, reads: dict, sampler: AdbSampler, app: dict) -> dict:
        """The best available method, always named: power rails, batterystats per UID, fuel gauge, power model."""
        phases = result["phases"]
        # Rails and BatteryStats are read after the app exits: they cover its warm load too (after the 'end' mark).
        lifetime = phases.get("warm_load_end", phases["end"]) - phases["start"]
        inferences = (1 + len(result["latencies_ms"]) + (len(result["outputs"] or []))
                      + (result.get("warm_first_inference_ms") is not None))  # the warm load's first inference
        before, after = reads.get("rails_before") or {}, reads.get("rails_after") or {}
        mah = parse_batterystats_uid_mah(reads.get("batterystats", ""), app["uid"]) if app.get("uid") else None
        volts = self.profile["battery_voltage_v"]
        window, window_name = lifetime, "the app's whole run"
        if before and after:
            energy = sum(after[r] - before[r] for r in after if r in before)
            method, note = "power_rails", "all power-stats rails: the whole phone, not only the app"
        elif mah:
            energy = mah_to_mj(mah, volts)
            method = "batterystats_uid"
            note = (f"BatteryStats estimate for the app's UID since reset ({mah:.4g} mAh at {volts} V): the whole app "
                    "run (load, warm-up, measured inferences, the warm load)")
        elif len(sampler.fuel["t"]) >= 3:
            energy = fuel_gauge_energy_mj(sampler.fuel["t"], sampler.fuel["current_ua"], sampler.fuel["voltage_uv"])
            method, note = "fuel_gauge", "battery current x voltage, whole phone, no idle baseline"
        else:
            core_w = self.profile["power_model"]["core_active_w"]
            energy = power_model_energy_mj(cpu["cpu_seconds"], core_w)
            method, window, window_name = "power_model", cpu["window_s"], "the measured phase"
            note = f"estimate: runner CPU time in the measured phase x {core_w} W per busy core (profile '{self.name}')"
            inferences = len(result["latencies_ms"])
        return energy_figure(method, note, energy, window, inferences, self.profile["energy_class"], window_name)
