"""Threads, cold and warm loads, where it ran, and a throttled sustained run on a virtual Pixel 2 (real adb server)."""

import pytest

from tests.devices.conftest import records_in

def test_each_thread_count_is_a_record_with_the_threads_in_force(cli, virtual_phone, tmp_path):
    virtual_phone()
    # 2.5 s of timing: the clocks are read over adb at the PSS period (1 s), so the window spans several readings.
    code, _, err = cli("run", "--device", "pixel2", "--model", "squeezenet1_1", "--format", "pte", "--threads", "1",
                       "--threads", "2", "--iters", "10", "--warmup", "1", "--min-duration", "2.5", "--out", tmp_path)
    assert code == 0, err
    records = records_in(tmp_path)
    assert sorted(r["runner"]["runtime"]["threads"] for r in records) == [1, 2]
    assert sorted(r["config"]["threads"] for r in records) == [1, 2]
    for record in records:
        assert record["runner"]["load_ms"] > 0 and record["runner"]["warm_load_ms"] > 0
        placement = record["placement"]
        # The virtual phone plays the profile's two clusters on the host's CPUs, with cpufreq policies.
        assert placement["status"] == "ok" and placement["clusters_source"] == "cpufreq related_cpus"
        assert sum(c["cpu_share"] for c in placement["clusters"]) == pytest.approx(1, abs=0.01)
        assert placement["threads_worked"] >= 1 and placement["clock_fraction"] == pytest.approx(1, abs=0.05)


def test_a_governor_throttling_twenty_seconds_in_is_seen_within_three_seconds(cli, virtual_phone, tmp_path):
    virtual_phone(throttle_after_s=20.0, throttle_factor=2.0)
    code, _, err = cli("run", "--device", "pixel2", "--model", "squeezenet1_1", "--format", "pte",
                       "--sustained", "30", "--warmup", "1", "--out", tmp_path)
    assert code == 0, err
    [record] = records_in(tmp_path)
    block = record["sustained"]
    assert 20.0 <= block["throttling_began_s"] <= 23.0 and "thermal status" in block["throttling"]
    assert block["slowdown"] > 1.3  # the last tenth ran at half speed
    assert len(block["latency_per_second"]["t_s"]) >= 25
    assert record["placement"]["clock_fraction"] < 0.95  # a third of the window at half clock
    report = next(tmp_path.glob("*/report.md")).read_text()
    assert "sustained_runs.png" in report and "thermal status" in report
