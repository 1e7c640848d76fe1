"""Faults through the virtual phone: a one-line error, exit code 1, measured results kept, the phone restored."""

import time

from cmx_bench.devices.android import restore
from tests.devices.conftest import adb, free_port, records_in

FAST = ["--iters", "10", "--warmup", "1", "--min-duration", "0.3"]


def one_line_error(cli, *args):
    code, stdout, stderr = cli(*args)
    message = stderr.strip()
    assert code == 1, (stdout, stderr)
    assert len(message.splitlines()) == 1 and message.startswith("error:"), message
    return message


def records_by_model(folder):
    return {r["config"]["model"]: r for r in records_in(folder)}


def battery_restored(serial):
    battery = adb("-s", serial, "shell", "dumpsys", "battery").stdout
    return "UPDATES STOPPED" not in battery and "USB powered: true" in battery


def test_disconnect_mid_run_keeps_the_first_run_and_restores_the_phone_when_it_is_back(cli, virtual_phone, tmp_path):
    # Runner starts: 1 SqueezeNet, 2 the fp32 peak calibration (once per run), 3 ShuffleNetV2, cut off mid-run.
    phone = virtual_phone(drop_after_s=1.0, drop_on_run=3, offline_for_s=3.0)
    message = one_line_error(cli, "run", "--device", "pixel2", "--model", "squeezenet1_1", "--model",
                             "shufflenet_v2_x1_0", *FAST, "--out", tmp_path / "reports")
    assert "disconnected" in message and "kept" in message
    records = records_by_model(tmp_path / "reports")
    assert records["squeezenet1_1"]["status"] == "ok" and records["squeezenet1_1"]["latency"]["samples_ms"]
    assert records["shufflenet_v2_x1_0"]["status"] == "error"
    assert "disconnected" in records["shufflenet_v2_x1_0"]["errors"][0]
    assert restore.pending(phone.serial)  # the undo commands wait on disk for the phone
    deadline = time.monotonic() + 30
    while adb("-s", phone.serial, "get-state", check=False).stdout.strip() != "device":
        assert time.monotonic() < deadline, "the virtual phone did not come back"
        adb("disconnect", phone.serial, check=False)
        adb("connect", phone.serial, check=False)
        time.sleep(0.5)
    assert not battery_restored(phone.serial)  # still unplugged in software ...
    code, _, err = cli("devices")  # ... until cmx-bench next talks to the phone
    assert code == 0, err
    assert battery_restored(phone.serial) and restore.pending(phone.serial) == []


def test_runner_crash_is_one_line_and_the_phone_is_restored(cli, virtual_phone, tmp_path):
    phone = virtual_phone(runner_crash=True)
    message = one_line_error(cli, "run", "--device", "pixel2", "--model", "squeezenet1_1", *FAST,
                             "--out", tmp_path / "reports")
    assert "died without a result" in message
    [record] = records_in(tmp_path / "reports")
    assert record["status"] == "error" and "died without a result" in record["errors"][0]
    assert list((tmp_path / "reports").glob("*/report.md"))
    assert battery_restored(phone.serial) and restore.pending(phone.serial) == []


def test_full_storage_is_refused_before_anything_changes(cli, virtual_phone, tmp_path):
    phone = virtual_phone(storage_free_mb=1)
    message = one_line_error(cli, "run", "--device", "pixel2", "--model", "squeezenet1_1", *FAST,
                             "--out", tmp_path / "reports")
    assert "not ready" in message and "MB free on /data" in message and "--force" in message
    assert battery_restored(phone.serial)
    pushes = [line for line in (phone.phone.shell_log).read_text().splitlines() if "battery unplug" in line]
    assert pushes == []
    # With --force the push itself fails on the full phone, again as one line.
    message = one_line_error(cli, "run", "--device", "pixel2", "--model", "squeezenet1_1", "--force", *FAST,
                             "--out", tmp_path / "forced")
    assert "No space left on device" in message


def test_a_hot_phone_that_does_not_cool_in_time_is_refused(cli, virtual_phone, tmp_path):
    virtual_phone(hot_for_s=600)
    message = one_line_error(cli, "run", "--device", "pixel2", "--model", "squeezenet1_1", "--cooldown-max", "1",
                             *FAST, "--out", tmp_path / "reports")
    assert "stayed hot" in message and "thermal status 2" in message


def test_missing_adb_binary_and_no_adb_server(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port()))  # nothing listens there
    message = one_line_error(cli, "run", "--device", "pixel2", "--out", tmp_path / "a")
    assert "no adb server is running" in message and "adb start-server" in message
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("ADB", raising=False)
    message = one_line_error(cli, "run", "--device", "pixel2", "--out", tmp_path / "b")
    assert "adb not found on PATH" in message and "apt-get install adb" in message
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_serial_that_is_not_attached(cli, virtual_phone, tmp_path):
    phone = virtual_phone()
    message = one_line_error(cli, "run", "--device", "10.9.8.7:5555", "--out", tmp_path / "reports")
    assert "unknown device '10.9.8.7:5555'" in message and phone.serial in message
    message = one_line_error(cli, "run", "--device", "pixel3xl", "--out", tmp_path / "reports")
    assert "no attached phone matches profile 'pixel3xl'" in message
    assert not (tmp_path / "reports").exists()


def test_ctrl_c_during_a_run_restores_the_phone(cli, virtual_phone, tmp_path, monkeypatch):
    from cmx_bench.devices.android import runner_app

    phone = virtual_phone()

    original = runner_app.read_result

    def interrupted(link, name):
        if name.startswith("result-"):  # while the job runs, not while the app reports its runtimes
            raise KeyboardInterrupt
        return original(link, name)

    monkeypatch.setattr(runner_app, "read_result", interrupted)
    code, _, err = cli("run", "--device", "pixel2", "--model", "squeezenet1_1", *FAST, "--out", tmp_path / "r")
    assert code == 130 and "interrupted" in err
    assert battery_restored(phone.serial) and restore.pending(phone.serial) == []
    assert "am force-stop org.cmxbench.runner" in phone.phone.shell_log.read_text()
