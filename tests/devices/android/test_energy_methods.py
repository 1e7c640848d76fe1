"""The Android energy figure comes from the best method available, and always names it."""

import pytest

from cmx_bench.devices.android.phone_device import AndroidDevice
from cmx_bench.devices.profiles import get_profile


class _Link:
    serial = "fake"


def _device():
    return AndroidDevice(_Link(), get_profile("pixel2"))


RESULT = {"phases": {"start": 100.0, "end": 110.0}, "latencies_ms": [5.0] * 99, "outputs": None}
CPU = {"cpu_seconds": 2.0, "window_s": 4.0}


class _Sampler:
    def __init__(self, fuel=None):
        self.fuel = fuel or {"t": [], "current_ua": [], "voltage_uv": []}


def test_power_rails_first_then_batterystats_then_fuel_gauge_then_the_power_model():
    device = _device()
    rails = {"rails_before": {"CPU": 100.0, "GPU": 50.0}, "rails_after": {"CPU": 400.0, "GPU": 80.0},
             "batterystats": "Estimated power use (mAh):\n    Uid u0a23: 0.5 ( cpu=0.5 )\n"}
    energy = device._energy(RESULT, CPU, rails, _Sampler(), {"uid": 10023})
    assert energy["method"] == "power_rails" and energy["energy_mj"] == pytest.approx(330.0)
    assert energy["energy_per_inference_mj"] == pytest.approx(3.3)  # 1 first + 99 timed inferences

    stats = {"batterystats": rails["batterystats"]}
    energy = device._energy(RESULT, CPU, stats, _Sampler(), {"uid": 10023})
    assert energy["method"] == "batterystats_uid" and energy["energy_mj"] == pytest.approx(0.5 * 3.85 * 3600)

    fuel = _Sampler({"t": [100.0, 105.0, 110.0], "current_ua": [-250_000.0] * 3, "voltage_uv": [4_000_000.0] * 3})
    energy = device._energy(RESULT, CPU, {}, fuel, {"uid": 10023})
    assert energy["method"] == "fuel_gauge" and energy["energy_mj"] == pytest.approx(1000.0 * 10)

    energy = device._energy(RESULT, CPU, {}, _Sampler(), {"uid": None})
    assert energy["method"] == "power_model" and energy["energy_mj"] == pytest.approx(2.0 * 0.8 * 1e3)
    assert energy["avg_power_mw"] == pytest.approx(400.0) and energy["energy_class"] == "Heavy"
    assert all(e for e in (energy["note"], energy["energy_class_rule"]))
