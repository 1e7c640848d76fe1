"""Host energy from RAPL: a package counter that wraps around (at max_energy_range_uj) mid-run still adds up."""

import functools

import pytest

from cmx_bench.devices.local import local_energy
from cmx_bench.measure import rapl

PROFILE = {"name": "fixture-host", "power_model": {"core_active_w": 5.0}, "energy_class": {}}


def powercap_fixture(root, max_range_uj):
    domain = root / "intel-rapl:0"
    domain.mkdir()
    (domain / "energy_uj").write_text("0\n")
    (domain / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    return root


def test_rapl_energy_unwraps_each_wrap_of_the_counter(tmp_path, monkeypatch):
    root = powercap_fixture(tmp_path, max_range_uj=10_000)
    monkeypatch.setattr(rapl, "readable_domains", functools.partial(rapl.readable_domains, root))
    # Two wraps: unwrapped 8000, 9500, 11000, 12500, 19000, 20500 uJ.
    series = {"t": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "rapl_uj": [8000, 9500, 1000, 2500, 9000, 500]}
    energy = local_energy(series, {"cpu_seconds": 1.0}, PROFILE, iterations=4, start=0.5, end=4.5)
    assert energy["method"] == "rapl_package"
    assert energy["energy_mj"] == pytest.approx((19750 - 8750) / 1e3)  # interpolated at the window's edges
    assert energy["energy_per_inference_mj"] == pytest.approx(11.0 / 4)


def test_without_rapl_samples_the_power_model_is_used_and_labelled():
    energy = local_energy({"t": [0.0, 1.0]}, {"cpu_seconds": 2.0}, PROFILE, iterations=2, start=0.0, end=1.0)
    assert energy["method"] == "power_model" and "fixture-host" in energy["note"]
    assert energy["energy_mj"] == pytest.approx(10_000.0)
