"""The host sampler reads its process's threads and the cpufreq clocks, and says where the threads ran."""

import os
import subprocess
import sys
import time

import pytest

from cmx_bench.devices.profiles import get_profile
from cmx_bench.measure.host_sampler import HostProcessSampler, read_host_tasks

# Two threads that spin in turn (the GIL) for 1.5 s while the main thread waits for them.
TWO_SPINNERS = ("import threading, time\n"
                "def spin():\n    end = time.time() + 1.5\n    while time.time() < end:\n        pass\n"
                "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
                "[t.start() for t in threads]\n[t.join() for t in threads]\n")
SERIES_COLUMNS = {"t", "cpu_s", "system_cpu_s", "rss_mb", "pss_mb", "uss_mb"}
TIME_IN_STATE = "cpufreq/policy0/stats/time_in_state"


def _sample(on_window_start=lambda: None, **options) -> tuple[HostProcessSampler, float]:
    """Sample TWO_SPINNERS, announcing a measured window from 0.3 s to 0.9 s after the start."""
    child = subprocess.Popen([sys.executable, "-c", TWO_SPINNERS])
    sampler = HostProcessSampler(child.pid, period_s=0.05, pss_period_s=60, **options).start()
    started = time.time()
    time.sleep(0.3)
    sampler.phase_reached("measure_start", read_pss=False)
    on_window_start()
    time.sleep(0.6)
    sampler.phase_reached("measure_end", read_pss=False)
    child.wait()
    sampler.stop()
    return sampler, started


def test_threads_are_sampled_beside_an_unchanged_series():
    sampler, started = _sample()
    assert set(sampler.series) - {"rapl_uj"} == SERIES_COLUMNS
    assert 10 <= len(sampler.task_samples) <= len(sampler.series["t"])
    figure = sampler.placement(started + 0.3, started + 0.9, get_profile("local"))
    assert figure["threads_seen"] == 3 and figure["threads_worked"] == 2  # the waiting main thread did not work
    assert sum(c["cpu_share"] for c in figure["clusters"]) == pytest.approx(1, abs=1e-3)
    if not sampler.discovery["clusters"][0]["clock_dirs"]:  # these VMs: no cpufreq policy to read clocks from
        assert figure["clock_fraction"] is None and sampler.clock_readings == []
        assert figure["clock_reason"] == sampler.discovery["cpufreq_reason"] and "cpufreq" in figure["clock_reason"]
        assert figure["status"] == ("unavailable" if figure["clusters_source"] == "all CPUs as one cluster (no cpufreq)"
                                    else "ok")


def test_clocks_are_read_at_the_window_marks(tmp_path):
    root = tmp_path / "cpu"
    files = {"cpufreq/policy0/related_cpus": f"0-{(os.cpu_count() or 1) - 1}\n",
             "cpufreq/policy0/cpuinfo_max_freq": "2000000\n", "cpufreq/policy0/scaling_cur_freq": "1000000\n",
             TIME_IN_STATE: "1000000 10\n2000000 10\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    # in the window: 0.3 s at 1 GHz and 0.1 s at 2 GHz
    sampler, started = _sample(lambda: (root / TIME_IN_STATE).write_text("1000000 40\n2000000 20\n"), cpu_root=root)
    figure = sampler.placement(started + 0.3, started + 0.9, {})
    assert figure["status"] == "ok" and figure["clusters_source"] == "cpufreq related_cpus"
    assert len(sampler.clock_readings) >= 2  # the marks, and the first sample (its PSS read is due)
    assert figure["clusters"][0]["mean_khz"] == 1250000 and figure["clock_fraction"] == 0.625
    assert figure["clock_source"] == "time_in_state"


def test_a_gone_process_has_no_threads():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert read_host_tasks(child.pid) is None
