"""`cmx-bench tune --device pixel2` through the real adb server and a virtual Pixel 2: the phone's own timings choose
its lowering, `run` lowers with them, and a phone unplugged part way keeps the knobs measured before."""

import json

from cmx_bench.bench.tuned import tuning_path
from tests.devices.conftest import records_in


def test_tune_on_pixel2_keeps_the_phones_choices_and_run_lowers_with_them(cli, virtual_phone, tmp_path):
    virtual_phone()
    try:
        code, out, err = cli("tune", "--device", "pixel2", "-m", "squeezenet1_1", "-f", "pte", "--rounds", "1")
        assert code == 0, err
        entry = json.loads(tuning_path("pixel2").read_text())["entries"][-1]
        assert entry["complete"] and entry["key"]["model"] == "Pixel 2" and entry["key"]["target"] == "arm"
        im2col = next(t for t in entry["trials"] if t["knob"] == "im2col_convolutions")
        assert im2col["models"] == ["squeezenet1_1"] and im2col["on_ms"] > 0 and im2col["off_ms"] > 0
        assert im2col["chosen_on"] == ("im2col_convolutions" in entry["choices"]["fp32"])
        code, _, err = cli("run", "--device", "pixel2", "-m", "squeezenet1_1", "--iters", "5", "--warmup", "0",
                           "--min-duration", "0", "--out", tmp_path / "reports")
        assert code == 0, err
        [record] = records_in(tmp_path / "reports")
        lowering = record["artifact"]["lowering"]
        assert lowering["target"] == "arm" and lowering["choices_source"].startswith("tuned on pixel2")
        assert lowering["choices"] == entry["choices"]["fp32"]
    finally:
        tuning_path("pixel2").unlink(missing_ok=True)  # the tests share one cache: later runs lower untuned


def test_a_phone_unplugged_mid_tune_keeps_the_knobs_measured_before(cli, virtual_phone):
    virtual_phone(drop_after_s=0.2, drop_on_run=1)
    try:
        code, _, err = cli("tune", "--device", "pixel2", "-m", "squeezenet1_1", "-f", "pte", "--rounds", "1")
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert "measured before are kept in" in err and "pixel2.json" in err
        entry = json.loads(tuning_path("pixel2").read_text())["entries"][-1]
        assert entry["complete"] is False and entry["trials"]
        assert all(trial["ratio"] is None for trial in entry["trials"])  # only knobs that needed no timing
    finally:
        tuning_path("pixel2").unlink(missing_ok=True)
