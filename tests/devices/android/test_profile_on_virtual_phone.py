"""`run --profile` on the virtual Pixel 2 through the real adb server: a profile block, or the stock runtime's reason."""

from tests.devices.conftest import records_in

RUN = ["run", "--device", "pixel2", "--model", "squeezenet1_1", "--profile", "--profile-iterations", "10",
       "--iters", "10", "--warmup", "1", "--min-duration", "0.5"]


def test_the_runner_profiles_and_the_etdump_comes_back_over_adb(cli, virtual_phone, tmp_path):
    phone = virtual_phone()
    code, _, err = cli(*RUN, "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    block = record["profile"]
    assert block["status"] == "ok" and len(block["operators"]) >= 10 and block["coverage"] > 0.5
    assert record["device"]["serial"] == phone.serial
    # As the app does, the runner wrote it in the app's own files folder; read back with run-as, then removed.
    assert not list(phone.phone.fs_path("/data/local/tmp/cmx-bench/jobs").glob("*.etdump"))
    assert not list(phone.phone.fs_path("/data/data/org.cmxbench.runner/files").glob("*.etdump"))


def test_a_stock_runtime_without_profiling_says_why_and_keeps_the_record_whole(cli, virtual_phone, tmp_path):
    virtual_phone(profiling=False)
    code, _, err = cli(*RUN, "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    assert record["profile"]["status"] == "unavailable"
    assert record["profile"]["reason"].startswith("operator profile unavailable on this runtime build")
    assert record["status"] == "ok" and record["errors"] == [] and record["latency"]["stats"]
    assert record["cpu"]["cpu_device_pct"] and record["memory"]["pss_peak_mb"] and record["energy"]["method"]
