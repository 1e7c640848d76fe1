"""The peak calibration on the virtual Pixel 2 through the real adb server: the app's runner plays the calibration
job, echoes its role, and the .pte record carries its efficiency."""

from cmx_bench.devices.android.phone_device import AndroidDevice
from cmx_bench.export.calibration import calibration_artifact
from cmx_bench.export.manifest import verify_artifact
from tests.devices.conftest import records_in

RUN = ["run", "--device", "pixel2", "--model", "squeezenet1_1", "--iters", "10", "--warmup", "1",
       "--min-duration", "0.3"]


def test_a_virtual_pixel2_run_measures_the_peak_and_carries_the_efficiency(cli, virtual_phone, tmp_path, monkeypatch):
    phone = virtual_phone()
    results = []
    run = AndroidDevice.run

    def kept(self, *args, **kwargs):
        outcome = run(self, *args, **kwargs)
        results.append(outcome.runner_result)
        return outcome

    monkeypatch.setattr(AndroidDevice, "run", kept)
    code, _, err = cli(*RUN, "--out", tmp_path / "reports")
    assert code == 0, err
    [record] = records_in(tmp_path / "reports")
    assert record["device"]["serial"] == phone.serial and record["errors"] == []
    # The network's job and then the calibration's, each result echoing its job's role.
    assert [result["role"] for result in results] == ["network", "calibration"]
    block = record["efficiency"]
    assert block["status"] == "ok" and block["efficiency"] > 0 and block["peak_macs_per_s"] > 0
    assert block["calibration"]["artifact_sha256"] == verify_artifact(calibration_artifact("fp32"))["sha256"]
    assert block["calibration"]["iterations"] == len(results[1]["latencies_ms"])
