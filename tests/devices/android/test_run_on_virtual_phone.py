"""`cmx-bench devices` and `cmx-bench run --device pixel2` through the real adb server and a virtual Pixel 2."""

import numpy as np

from cmx_bench.devices.virtual.launch import standin_runner_apk
from tests.devices.conftest import adb, paper_pixel2_cell, records_in, table5_cells

FAST = ["--iters", "20", "--warmup", "1", "--min-duration", "0.5"]


def test_devices_lists_the_phone_and_the_profile_it_matched(cli, virtual_phone, monkeypatch):
    from cmx_bench.cli import render

    monkeypatch.setattr(render.console, "width", 200)
    phone = virtual_phone(battery_level=77)
    code, out, err = cli("devices")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.count("127.0.0.1:") and str(phone.port) in line)
    assert "Pixel 2" in row and "pixel2" in row and "77% charging" in row and "arm64-v8a" in row
    assert "0, skin 31.2 C" in row


def test_run_on_pixel2_records_latency_cpu_pss_and_energy_and_reports_beside_the_paper(cli, virtual_phone, tmp_path):
    phone = virtual_phone(preinstall_runner=False, hot_after_run_s=3.0)
    apk = standin_runner_apk(tmp_path / "apk")
    code, out, err = cli("run", "--device", "pixel2", "--model", "shufflenet_v2_x1_0", "--apk", apk, *FAST,
                         "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    assert record["status"] == "ok" and record["device"]["serial"] == phone.serial
    assert record["artifact"]["lowering"]["target"] == "arm"  # from the phone's ABI, not from the host that exported
    assert record["device"]["model"] == "Pixel 2" and record["device"]["emulated"].startswith("virtual phone")
    assert len(record["latency"]["samples_ms"]) >= 20 and record["latency"]["stats"]["median_ms"] > 0
    assert 0 < record["cpu"]["cpu_device_pct"] <= 100 and record["cpu"]["samples_in_window"] >= 2
    assert record["memory"]["pss_peak_mb"] > record["memory"]["pss_delta_mb"] > 0  # the model's load shows in PSS
    assert record["memory"]["vm_hwm_mb"] >= record["memory"]["rss_peak_mb"] * 0.9
    assert record["energy"]["method"] == "batterystats_uid" and record["energy"]["energy_mj"] > 0
    assert record["energy"]["energy_class"] in ("Light", "Medium", "Heavy")
    sampler = record["sampler"]
    assert sampler["runner_app"]["installed_now"] and all(p["pushed"] for p in sampler["pushes"])
    assert record["thermal"]["cooldown"]["cooled"] and record["thermal"]["cooldown"]["waited_s"] < 1.0
    assert record["thermal"]["before"]["thermal_status"] == 0 and record["thermal"]["after"]["skin_temperature_c"]
    # Each CPU at its played cluster's top clock (the host's CPUs are shared out over the profile's clusters).
    assert 2457600 in set(record["thermal"]["before"]["cpufreq_khz"]) <= {1900800, 2457600}
    report = next((tmp_path / "reports").glob("*/report.md")).read_text()
    cells = table5_cells(report, "shufflenet_v2_x1_0")
    # The paper's Pixel 2 ShuffleNetV2 cell, each value beside the measured column it compares with.
    assert paper_pixel2_cell(cells) == ("51.0", "65.3", "Heavy")
    assert float(cells["pixel2 App PSS MB"]) > 0 and cells["pixel2 Energy"] in ("Light", "Medium", "Heavy")
    # The phone is back as it was: not unplugged, nothing left running, no journal of changes to undo.
    battery = adb("-s", phone.serial, "shell", "dumpsys", "battery").stdout
    assert "UPDATES STOPPED" not in battery and "USB powered: true" in battery
    assert adb("-s", phone.serial, "shell", "pidof", "org.cmxbench.runner", check=False).stdout.strip() == ""
    # A second run installs nothing and pushes nothing: the phone has this runner and these files (same sha256).
    code, _, err = cli("run", "--device", phone.serial, "--model", "shufflenet_v2_x1_0", *FAST,
                       "--out", tmp_path / "again")
    assert code == 0, err
    [again] = records_in(tmp_path / "again")
    assert not again["sampler"]["runner_app"]["installed_now"]
    assert not any(p["pushed"] for p in again["sampler"]["pushes"])
    cooldown = again["thermal"]["cooldown"]  # the first run left the phone hot (status 2) for 3 s
    assert cooldown["cooled"] and cooldown["waited_s"] >= 1.0 and cooldown["thermal_status"] == 0


def test_data_and_weights_on_the_phone_equal_the_local_run(cli, virtual_phone, tmp_path, phantom_dir,
                                                          squeezenet_checkpoint):
    virtual_phone()
    for device in ("local", "pixel2"):
        code, _, err = cli("run", "--device", device, "--model", "squeezenet1_1", "--data", phantom_dir,
                           "--weights", squeezenet_checkpoint, "--iters", "5", "--warmup", "1",
                           "--min-duration", "0.2", "--out", tmp_path / device)
        assert code == 0, err
    [local] = records_in(tmp_path / "local")
    [phone] = records_in(tmp_path / "pixel2")
    assert phone["device"]["kind"] == "android" and local["device"]["kind"] == "local"
    assert phone["accuracy"]["images"] == local["accuracy"]["images"] == 12
    assert phone["accuracy"]["accuracy"] == local["accuracy"]["accuracy"]
    assert phone["accuracy"]["auroc"] == local["accuracy"]["auroc"]
    assert np.allclose(phone["accuracy"]["outputs"], local["accuracy"]["outputs"], atol=1e-6, rtol=0)
    assert phone["accuracy"]["parity"]["argmax_agreement"] == 1.0
