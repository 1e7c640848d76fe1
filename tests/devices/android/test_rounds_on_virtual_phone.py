"""`run --rounds` on a virtual Pixel 2 through the real adb server: every round is a runner start on the phone, the
record pools them, and a phone unplugged in a later round keeps the rounds measured before."""

from tests.devices.conftest import records_in

ARGS = ("run", "--device", "pixel2", "-m", "squeezenet1_1", "--iters", "5", "--warmup", "0", "--min-duration", "0",
        "--rounds", "2")


def test_rounds_on_pixel2_pool_each_rounds_runner(cli, virtual_phone, tmp_path):
    virtual_phone()
    code, out, err = cli(*ARGS, "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    rounds = record["latency"]["rounds"]
    assert [entry["round"] for entry in rounds] == [1, 2] and all(entry["count"] >= 5 for entry in rounds)
    assert len(record["latency"]["samples_ms"]) == sum(entry["count"] for entry in rounds)
    assert record["efficiency"]["status"] == "ok" and record["errors"] == []


def test_a_phone_unplugged_in_round_two_keeps_round_one(cli, virtual_phone, tmp_path):
    # runner starts on the phone: round 1, the calibration, round 2 (dropped)
    virtual_phone(drop_after_s=0.2, drop_on_run=3)
    code, _, err = cli(*ARGS, "--out", tmp_path / "reports")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "round 2 of 2 failed" in err and "measured results are kept in" in err
    [record] = records_in(tmp_path / "reports")
    assert record["status"] == "ok" and len(record["latency"]["rounds"]) == 1
    assert any("round 2 of 2 failed" in line and "latency pools round 1" in line for line in record["errors"])
