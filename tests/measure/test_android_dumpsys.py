"""Android output parsers on the layouts of Android 9, 11 and 13 (tests/fixtures/android)."""

from pathlib import Path

import pytest

from cmx_bench.measure.android_dumpsys import (CPU, SKIN, NoProcessError, android_uid_name, hottest, parse_battery,
                                               parse_batterystats_uid_mah, parse_cpu_possible, parse_df_available_kb,
                                               parse_getprop, parse_kv_dump, parse_meminfo_totals_kb,
                                               parse_power_rails_mj, parse_thermal)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "android"


def fixture(release: str, name: str) -> str:
    return (FIXTURES / release / f"{name}.txt").read_text()


@pytest.mark.parametrize("release, expected", [
    ("android9", {"pss_kb": 64395, "swap_pss_kb": 0}),  # `TOTAL:` and no RSS before Android 10
    ("android11", {"pss_kb": 67256, "rss_kb": 151070, "swap_pss_kb": 16}),
    ("android13", {"pss_kb": 71388, "rss_kb": 160112, "swap_pss_kb": 16}),
])
def test_meminfo_total_pss_on_each_release(release, expected):
    assert parse_meminfo_totals_kb(fixture(release, "meminfo")) == expected


def test_meminfo_of_a_missing_process_is_its_own_error():
    with pytest.raises(NoProcessError):
        parse_meminfo_totals_kb(fixture("android11", "meminfo-missing"))


def test_meminfo_falls_back_to_the_table_total_row():
    table_only = "\n".join(line for line in fixture("android9", "meminfo").splitlines() if "TOTAL:" not in line)
    assert parse_meminfo_totals_kb(table_only)["pss_kb"] == 64395


@pytest.mark.parametrize("release, level, charging, temp, stopped", [
    ("android9", 87, True, 28.4, False), ("android11", 64, False, 31.2, True), ("android13", 12, False, 29.7, False)])
def test_battery(release, level, charging, temp, stopped):
    parsed = parse_battery(fixture(release, "battery"))
    assert (parsed["level_pct"], parsed["charging"], parsed["temperature_c"], parsed["updates_stopped"]) == \
        (level, charging, temp, stopped)


def test_batterystats_per_uid_before_and_after_android_12():
    assert android_uid_name(10057) == "u0a57"
    assert parse_batterystats_uid_mah(fixture("android9", "batterystats"), 10057) == pytest.approx(0.612)
    assert parse_batterystats_uid_mah(fixture("android13", "batterystats"), 10311) == pytest.approx(0.744)
    # u0a3110 must not be read as u0a311, and an app with no line used nothing.
    assert parse_batterystats_uid_mah(fixture("android13", "batterystats"), 13110) == pytest.approx(0.0110)
    assert parse_batterystats_uid_mah(fixture("android13", "batterystats"), 10999) == 0.0
    assert parse_batterystats_uid_mah("no estimate section", 10057) is None


def test_thermal_status_and_temperatures():
    android11 = parse_thermal(fixture("android11", "thermalservice"))
    assert android11["status"] == 2
    assert hottest(android11["temperatures"], SKIN) == 41.3  # the HAL's current reading, not the cached one
    assert hottest(android11["temperatures"], CPU) == 67.2
    android13 = parse_thermal(fixture("android13", "thermalservice"))
    assert (android13["status"], hottest(android13["temperatures"], SKIN)) == (0, 33.1)
    assert parse_thermal(fixture("android9", "thermalservice")) == {"status": None, "temperatures": []}


def test_power_rails_energy_meter():
    rails = parse_power_rails_mj(fixture("android13", "power_stats"))
    assert rails == {"S4M_VDD_CPUCL0": 15003.274, "S5M_VDD_INT": 9211.110, "S2M_VDD_CPUCL2": 22117.902,
                     "S9S_VDD_AOC": 4012.0}
    assert parse_power_rails_mj(fixture("android11", "power_stats")) == {}


def test_df_cpu_possible_getprop_and_package_dump():
    assert parse_df_available_kb(fixture("android13", "df")) == 99595716
    assert parse_df_available_kb(fixture("android9", "df")) == 200000
    assert parse_cpu_possible("0-7\n") == 8 and parse_cpu_possible("0-3,6") == 5 and parse_cpu_possible("0") == 1
    assert parse_getprop("[ro.product.model]: [Pixel 2]\n[ro.build.version.sdk]: [30]\n") == {
        "ro.product.model": "Pixel 2", "ro.build.version.sdk": "30"}
    assert parse_kv_dump("  userId=10123\n    versionCode=4 minSdk=24\n    versionName=0.4.0\n") == {
        "userId": "10123", "versionCode": "4", "versionName": "0.4.0"}
