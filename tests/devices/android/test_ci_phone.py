"""The phone `.ci/run` starts and `adb connect`s on the default adb server: `devices` and a Pixel 2 run on it."""

import os

import pytest

from tests.devices.conftest import paper_pixel2_cell, records_in, table5_cells


@pytest.fixture
def ci_phone(monkeypatch):
    serial = os.environ.get("CMX_BENCH_CI_PHONE")
    if not serial:
        if os.environ.get("CMX_BENCH_REQUIRE_ADB") == "1":
            pytest.fail("CMX_BENCH_REQUIRE_ADB=1 but CMX_BENCH_CI_PHONE is not set (.ci/run sets both)")
        pytest.skip("no CI phone: .ci/run starts one (cmx-bench virtual-device --port 5555) and sets CMX_BENCH_CI_PHONE")
    # The other Android tests point ANDROID_ADB_SERVER_PORT at a private server; this one uses the CI's.
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", os.environ.get("CMX_BENCH_CI_ADB_PORT", "5037"))
    monkeypatch.setenv("CMX_BENCH_STATE", os.environ.get("CMX_BENCH_STATE", "/tmp/cmx-bench-ci-state"))
    return serial


def test_devices_and_a_pixel2_run_on_the_ci_phone(cli, ci_phone, tmp_path, monkeypatch):
    from cmx_bench.cli import render

    monkeypatch.setattr(render.console, "width", 200)
    code, out, err = cli("devices")
    assert code == 0, err
    assert any(ci_phone in line and "pixel2" in line for line in out.splitlines()), out
    code, out, err = cli("run", "--device", "pixel2", "--model", "shufflenet_v2_x1_0", "--iters", "20",
                         "--min-duration", "0.5", "--out", tmp_path)
    assert code == 0, err
    [record] = records_in(tmp_path)
    assert record["device"]["serial"] == ci_phone and record["status"] == "ok"
    assert record["latency"]["samples_ms"] and record["cpu"]["cpu_device_pct"] > 0
    assert record["memory"]["pss_peak_mb"] > 0 and record["energy"]["method"] == "batterystats_uid"
    cells = table5_cells(next(tmp_path.glob("*/report.md")).read_text(), "shufflenet_v2_x1_0")
    assert paper_pixel2_cell(cells) == ("51.0", "65.3", "Heavy")  # the paper's Pixel 2 ShuffleNetV2 cell
