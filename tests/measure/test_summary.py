import pytest

from cmx_bench.measure.summary import cpu_figures, memory_figures


def _series():
    # 10 s at 1 s steps; the process uses 0.5 s of CPU per second on a 4-core machine (4 s of machine CPU per second).
    t = [1000.0 + i for i in range(11)]
    return {"t": t, "cpu_s": [0.5 * i for i in range(11)], "system_cpu_s": [4.0 * i for i in range(11)],
            "rss_mb": [100, 100, 100, 150, 160, 170, 165, 160, 160, 160, 160],
            "pss_mb": [80, None, 80, None, 140, None, 150, None, 140, None, 140],
            "uss_mb": [70, None, 70, None, 130, None, 140, None, 130, None, 130]}


def test_both_cpu_conventions_over_an_interpolated_window():
    cpu = cpu_figures(_series(), 1002.5, 1007.5, ncpu=4)
    assert cpu["cpu_core_pct"] == pytest.approx(50.0)
    assert cpu["cpu_device_pct"] == pytest.approx(12.5)
    assert cpu["cpu_seconds"] == pytest.approx(2.5)


def test_memory_peak_and_rise_over_the_baseline():
    memory = memory_figures(_series(), baseline_before=1002.5, start=1002.5, end=1010.0)
    assert memory["rss_baseline_mb"] == 100 and memory["rss_peak_mb"] == 170 and memory["rss_delta_mb"] == 70
    assert memory["pss_baseline_mb"] == 80 and memory["pss_peak_mb"] == 150 and memory["pss_delta_mb"] == 70
