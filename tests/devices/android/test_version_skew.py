"""Artifacts the phone's runtime may not load are refused before anything is pushed (through the real adb server)."""

from cmx_bench.devices.android import runner_app
from cmx_bench.export.runtime_pins import pinned_runtimes
from tests.devices.conftest import records_in

FAST = ["--iters", "20", "--warmup", "1", "--min-duration", "0.5"]
RUN = ["run", "--device", "pixel2", "--model", "shufflenet_v2_x1_0", *FAST]


def _pushed(phone) -> list:
    folder = phone.phone.fs_path("/data/local/tmp/cmx-bench")
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_an_older_executorch_runtime_stops_the_run_before_any_push(cli, virtual_phone, tmp_path):
    phone = virtual_phone(runtimes={"executorch": "1.0.0"})
    code, out, err = cli(*RUN, "--out", tmp_path / "reports")
    message = err.strip()
    assert code == 1 and len(message.splitlines()) == 1, (out, err)
    assert "ExecuTorch 1.5.1" in message and "ExecuTorch 1.0.0" in message and "--allow-version-skew" in message
    assert _pushed(phone) == []
    assert not list((tmp_path / "reports").rglob("*.json"))


def test_allow_version_skew_runs_and_the_record_says_so(cli, virtual_phone, tmp_path):
    virtual_phone(runtimes={"executorch": "1.0.0"})
    code, out, err = cli(*RUN, "--allow-version-skew", "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    check = record["artifact"]["runtime_check"]
    assert check["skew_allowed"] and not check["compatible"] and check["device_runtime_version"] == "1.0.0"
    assert record["runner"]["runtime"]["version"] == "1.0.0"  # the runner reports the runtime it was built with
    report = next((tmp_path / "reports").glob("*/report.md")).read_text()
    assert "--allow-version-skew" in report and "1.0.0" in report


def test_equal_versions_run_as_before(cli, virtual_phone, tmp_path):
    virtual_phone()
    code, _, err = cli(*RUN, "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    check = record["artifact"]["runtime_check"]
    assert check["compatible"] and check["device_runtime_version"] == pinned_runtimes()["executorch"]
    assert check["reported_by"].startswith(f"runner app {runner_app.VERSION_NAME}")
