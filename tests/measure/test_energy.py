import pytest

from cmx_bench.measure import rapl
from cmx_bench.measure.energy import energy_class, power_model_energy_mj

THRESHOLDS = {"none_max_mw": 0.0, "light_max_mw": 200.0, "medium_max_mw": 400.0}


def test_power_model_is_cpu_time_times_core_power():
    assert power_model_energy_mj(2.0, 0.8) == pytest.approx(1600.0)


@pytest.mark.parametrize("power,expected", [(0.0, "None"), (150.0, "Light"), (200.0, "Medium"), (399.0, "Medium"),
                                            (400.0, "Heavy")])
def test_energy_class_boundaries(power, expected):
    assert energy_class(power, THRESHOLDS) == expected


def test_rapl_domains_totals_and_ranges(tmp_path):
    for name, energy in (("intel-rapl:0", 1000), ("intel-rapl:1", 500), ("intel-rapl:0:0", 99999)):
        domain = tmp_path / name
        domain.mkdir()
        (domain / "energy_uj").write_text(f"{energy}\n")
        (domain / "max_energy_range_uj").write_text("262143328850\n")
    domains = rapl.readable_domains(tmp_path)
    assert [d.name for d in domains] == ["intel-rapl:0", "intel-rapl:1"]
    assert rapl.read_total_uj(domains) == 1500
    assert rapl.max_range_uj(domains) == 2 * 262143328850


def test_mah_to_mj_and_fuel_gauge_integration():
    from cmx_bench.measure.energy import fuel_gauge_energy_mj, mah_to_mj

    assert mah_to_mj(1.0, 3.85) == pytest.approx(13860.0)  # 1 mAh at 3.85 V = 3.85 mWh = 13.86 J
    # 500 mA at 4 V = 2000 mW for 2 s = 4000 mJ; 1000 mW idle leaves 2000 mJ; the current's sign does not matter.
    t, current, voltage = [0.0, 1.0, 2.0], [-500_000.0] * 3, [4_000_000.0] * 3
    assert fuel_gauge_energy_mj(t, current, voltage) == pytest.approx(4000.0)
    assert fuel_gauge_energy_mj(t, current, voltage, idle_power_mw=1000.0) == pytest.approx(2000.0)
