"""The virtual phone plays cpufreq policies on the host's CPUs and serves its app's threads to the adb sampler."""

import os
import shlex
import subprocess
import sys
import time

import pytest

from cmx_bench.devices.android.runner_app import PACKAGE
from cmx_bench.devices.android.sampler import AdbSampler
from cmx_bench.devices.profiles import get_profile
from cmx_bench.devices.virtual.phone import AppProcess, VirtualPhone
from cmx_bench.measure.cpu_placement import cpu_list_text, parse_cpu_list, parse_task_stat, parse_time_in_state

CPUFREQ = "/sys/devices/system/cpu/cpufreq"
# Two threads that spin in turn for `seconds` while the main thread waits for them.
SPINNERS = ("import sys, threading, time\n"
            "def spin():\n    end = time.time() + float(sys.argv[1])\n    while time.time() < end:\n        pass\n"
            "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
            "[t.start() for t in threads]\n[t.join() for t in threads]\n")


class ShellLink:
    """A PhoneLink stand-in that runs each command line in the phone's shell, without adb in between."""

    serial = "virtual-shell"

    def __init__(self, phone: VirtualPhone):
        self.phone = phone

    def read_text(self, words):
        outcome = self.phone.run_shell(shlex.join(words))
        return outcome.stdout.decode() if outcome.code == 0 else None

    def shell(self, words, check=True):
        return self.phone.run_shell(shlex.join(words)).combined.decode()


def _phone(tmp_path, profile="pixel2") -> VirtualPhone:
    return VirtualPhone(get_profile(profile), tmp_path, serial="virtual-test")


def _app(phone: VirtualPhone, seconds: float) -> subprocess.Popen:
    """A host process that the phone takes for its runner app."""
    child = subprocess.Popen([sys.executable, "-c", SPINNERS, str(seconds)])
    phone.processes.append(AppProcess(PACKAGE, 10123, child))
    return child


def _cat(phone: VirtualPhone, *paths: str) -> str:
    outcome = phone.run_shell(shlex.join(["cat", *paths]))
    assert outcome.code == 0, outcome.stderr
    return outcome.stdout.decode()


def test_the_profiles_clusters_are_played_on_the_hosts_cpus(tmp_path):
    phone = _phone(tmp_path)
    policies = phone.run_shell(f"ls {CPUFREQ}").stdout.decode().split()
    cpus = [parse_cpu_list(_cat(phone, f"{CPUFREQ}/{p}/related_cpus")) for p in policies]
    assert sorted(cpu for group in cpus for cpu in group) == list(range(os.cpu_count() or 1))
    assert all(p == f"policy{group[0]}" for p, group in zip(policies, cpus))
    tops = {int(_cat(phone, f"{CPUFREQ}/{p}/cpuinfo_max_freq")) for p in policies}
    assert tops <= {1900800, 2457600} and 2457600 in tops
    last = (os.cpu_count() or 1) - 1  # the host's last CPU is in the profile's last (big) cluster
    assert int(_cat(phone, f"/sys/devices/system/cpu/cpu{last}/cpufreq/scaling_cur_freq")) == 2457600
    assert _cat(phone, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") == "schedutil\n"


def test_time_in_state_advances_with_wall_time_and_honours_a_clock_cap(tmp_path):
    phone = _phone(tmp_path)
    table = f"/sys/devices/system/cpu/cpu{(os.cpu_count() or 1) - 1}/cpufreq/stats/time_in_state"
    current = table.replace("stats/time_in_state", "scaling_cur_freq")
    first = parse_time_in_state(_cat(phone, table))
    time.sleep(0.3)
    second = parse_time_in_state(_cat(phone, table))
    assert 25 <= second[2457600] - first[2457600] <= 60  # 10 ms units
    phone.clock_cap(0.5)
    assert int(_cat(phone, current)) == 1228800
    time.sleep(0.3)
    third = parse_time_in_state(_cat(phone, table))
    assert third[2457600] - second[2457600] <= 2 and 25 <= third[1228800] <= 60
    phone.clock_cap(None)
    assert int(_cat(phone, current)) == 2457600
    with pytest.raises(ValueError):
        phone.clock_cap(1.5)


def test_the_apps_threads_are_served_and_no_other_process(tmp_path):
    phone = _phone(tmp_path)
    child = _app(phone, 0.5)
    try:
        tids = phone.run_shell(f"ls /proc/{child.pid}/task").stdout.decode().split()
        assert str(child.pid) in tids
        text = _cat(phone, *(f"/proc/{child.pid}/task/{t}/stat" for t in tids))
        stats = [parse_task_stat(line) for line in text.splitlines()]
        assert {str(s["tid"]) for s in stats} == set(tids)
        assert all(0 <= s["cpu"] < (os.cpu_count() or 1) for s in stats)
        assert phone.run_shell(f"cat /proc/{os.getpid()}/task/{os.getpid()}/stat").code == 1  # not the phone's
        assert phone.run_shell(f"ls /proc/{child.pid}/task/{child.pid}/../../..").code == 1
    finally:
        child.wait()


def test_the_adb_sampler_places_the_apps_threads_on_the_played_clusters(tmp_path):
    phone = _phone(tmp_path)
    phone.clock_cap(0.5)  # a throttled phone: every cluster at half its top clock
    sampler = AdbSampler(ShellLink(phone), PACKAGE, clock_offset_s=0.0, period_s=0.05, pss_period_s=0.3)
    child = _app(phone, 2.0)
    started = time.time()
    sampler.start()
    child.wait()
    sampler.stop()
    assert sampler.disconnected is None and len(sampler.task_samples) >= 10
    figure = sampler.placement(started + 0.4, started + 1.8, get_profile("pixel2"))
    assert figure["status"] == "ok" and figure["clusters_source"] == "cpufreq related_cpus"
    assert figure["threads_worked"] == 2 and figure["threads_seen"] == 3
    assert sum(c["cpu_share"] for c in figure["clusters"]) == pytest.approx(1, abs=1e-3)
    assert figure["clock_source"] == "time_in_state" and figure["clock_fraction"] == pytest.approx(0.5, abs=1e-3)
    here = " | ".join(cpu_list_text(c["cpus"]) for c in figure["clusters"])
    assert figure["profile_check"] == ("matches the device profile" if os.cpu_count() == 8 else
                                       f"differs from the device profile: CPUs 0-3 | 4-7 in the profile, {here} here "
                                       "(cpufreq related_cpus)")
