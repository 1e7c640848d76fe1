"""A sustained run's figures from known latencies and readings."""

import time

import pytest

from cmx_bench.measure.sustained import (PeriodicReader, latency_end_times_s, latency_per_second,
                                         steady_state_slowdown, sustained_block)


def test_end_times_are_the_running_sum_stretched_to_the_window():
    ends = latency_end_times_s([100.0, 100.0, 200.0], window_s=0.8)
    assert list(ends) == pytest.approx([0.2, 0.4, 0.8])


def test_latency_per_second_takes_the_median_of_each_whole_second():
    # 10 ms for 2 s, then 30 ms for 2 s: 200 inferences, then about 67.
    latencies = [10.0] * 200 + [30.0] * 67
    per_second = latency_per_second(latencies, window_s=sum(latencies) / 1e3)
    assert per_second["t_s"] == [0, 1, 2, 3, 4][:len(per_second["t_s"])] and len(per_second["t_s"]) >= 4
    assert per_second["median_ms"][:2] == [10.0, 10.0] and per_second["median_ms"][-2:] == [30.0, 30.0]
    assert sum(per_second["inferences"]) == len(latencies)


def test_slowdown_is_the_last_tenth_over_the_first():
    latencies = [10.0] * 500 + [25.0] * 200
    assert steady_state_slowdown(latencies, sum(latencies) / 1e3) == pytest.approx(2.5)
    assert steady_state_slowdown([10.0] * 300, 3.0) == pytest.approx(1.0)
    assert steady_state_slowdown([], 0.0) is None


def test_throttling_begins_at_the_first_thermal_status_above_zero_inside_the_timed_window():
    readings = {"t": [98.0, 100.0, 102.0, 104.0, 106.0], "thermal_status": [2, 0, 0, 3, 3],
                "temperature_c": [40.0, 41.0, 42.0, 47.0, 49.0], "cpufreq_khz": [None] * 5}
    block = sustained_block([10.0] * 1000, start=100.0, end=110.0, readings=readings, requested_s=10.0)
    # The hot reading at 98 s came before timing began (warm-up): not the run's throttling.
    assert block["throttling_began_s"] == pytest.approx(4.0) and "thermal status 3" in block["throttling"]
    assert block["readings"]["t_s"] == [-2.0, 0.0, 2.0, 4.0, 6.0]
    assert len(block["latency_per_second"]["t_s"]) == 10


def test_a_clock_cap_is_throttling_too_and_no_readings_say_unknown():
    readings = {"t": [100.0, 102.0, 104.0], "thermal_status": [0, 0, 0],
                # The current clock swings as a governor idles a core; only the allowed maximum's fall is a cap.
                "cpufreq_khz": [[300000, 2457600], [1900800, 300000], [300000, 1574400]],
                "max_freq_khz": [[1900800, 2457600], [None, 2457600], [1900800, 1574400]]}
    block = sustained_block([10.0] * 600, 100.0, 106.0, readings, 6.0)
    assert block["throttling_began_s"] == pytest.approx(4.0) and "clock cap on CPU 1" in block["throttling"]
    steady = sustained_block([10.0] * 600, 100.0, 106.0, {**readings, "max_freq_khz": [readings["max_freq_khz"][0]] * 3},
                             6.0)
    assert steady["throttling_began_s"] is None and "no thermal status above 0" in steady["throttling"]
    unknown = sustained_block([10.0] * 600, 100.0, 106.0, {"t": [101.0], "thermal_status": [None]}, 6.0)
    assert unknown["throttling_began_s"] is None and unknown["throttling"].startswith("unknown")


def test_periodic_reader_keeps_columns_aligned_when_a_figure_comes_and_goes():
    calls = iter([{"a": 1}, {"a": 2, "b": 5}, {"b": 6}] + [{}] * 100)
    reader = PeriodicReader(lambda: next(calls), period_s=0.01).start()
    time.sleep(0.2)
    series = reader.stop()
    assert len(series["t"]) >= 3 and len(series["a"]) == len(series["b"]) == len(series["t"])
    assert series["a"][:3] == [1, 2, None] and series["b"][:3] == [None, 5, 6]


def test_periodic_reader_stops_when_the_device_goes_away_and_the_block_says_so():
    calls = iter([{"thermal_status": 0}])

    def read():
        return next(calls)  # the second reading raises StopIteration: the phone went away

    reader = PeriodicReader(read, period_s=0.01).start()
    time.sleep(0.05)
    readings = reader.stop()
    assert len(readings["t"]) == 1 and readings["failure"]
    block = sustained_block([10.0] * 100, readings["t"][0], readings["t"][0] + 1.0, readings, 1.0)
    assert block["throttling_began_s"] is None and "the readings stopped" in block["throttling"]
    assert "failure" not in block["readings"]
