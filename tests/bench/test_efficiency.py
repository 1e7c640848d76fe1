"""Efficiency against the device's own peak: every .pte record of a run gets it, the calibration runs once per
(device, precision, threads), and a .ptl, an artifact without MACs or a failed calibration say why not."""

import json
from pathlib import Path

import pytest

from cmx_bench.bench.peak import CALIBRATION_JOB, PeakMeter, efficiency_block
from cmx_bench.devices.base import DeviceRun, RunSettings
from cmx_bench.export import calibration
from cmx_bench.export.formats import get_format
from cmx_bench.nets.complexity import count_params_and_macs
from cmx_bench.nets.registry import build_model, get_card
from cmx_bench.results.record import record_errors

SHORT = ["--iters", "10", "--min-duration", "0.3", "--warmup", "1"]


def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/records/*.json"))]


def test_each_pte_record_gets_its_efficiency_and_the_ptl_record_says_why_not(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    calibrations = []
    measure = PeakMeter._calibrate

    def counted(meter, precision, threads):
        calibrations.append((precision, threads))
        return measure(meter, precision, threads)

    monkeypatch.setattr(PeakMeter, "_calibrate", counted)
    code, stdout, stderr = cli("run", "--model", "squeezenet1_1", "--format", "pte", "--format", "pte-int8",
                               "--format", "ptl", *SHORT, "--out", tmp_path)
    assert code == 0, stderr
    records = {record["config"]["format"]: record for record in _records(tmp_path)}
    assert set(records) == {"pte", "pte-int8", "ptl"}
    macs = count_params_and_macs(build_model(get_card("squeezenet1_1")), get_card("squeezenet1_1").input_shape)["macs"]
    for fmt, precision in (("pte", "fp32"), ("pte-int8", "int8")):
        record = records[fmt]
        assert record_errors(record) == [] and record["errors"] == []
        block = record["efficiency"]
        assert block["status"] == "ok" and block["macs"] == macs
        assert 0 < block["efficiency"] <= 1
        assert block["achieved_macs_per_s"] > 0 and block["peak_macs_per_s"] > block["achieved_macs_per_s"]
        median = record["latency"]["stats"]["median_ms"]
        assert 0 < block["latency_floor_ms"] < median and block["x_floor"] == pytest.approx(median / block["latency_floor_ms"])
        peak = block["calibration"]
        assert peak["precision"] == precision and peak["threads"] == record["config"]["threads"]
        assert peak["iterations"] >= CALIBRATION_JOB.iterations and peak["median_ms"] > 0
        assert peak["artifact_sha256"] == json.loads(
            calibration.calibration_artifact(precision).with_name(
                calibration.calibration_artifact(precision).name + ".manifest.json").read_text())["sha256"]
    assert records["pte"]["efficiency"]["calibration"]["artifact_sha256"] != \
        records["pte-int8"]["efficiency"]["calibration"]["artifact_sha256"]
    assert records["ptl"]["efficiency"] == {"status": "unavailable", "reason": calibration.LITE_REASON}
    assert record_errors(records["ptl"]) == []
    # Once per (precision, threads) of the run, the .ptl needing none; twice where a network outran the first
    # calibration, which then met a slow phase of the host (PeakMeter.recheck).
    assert set(calibrations) == {("fp32", 0), ("int8", 0)} and len(calibrations) <= 4
    table = stdout[stdout.index("Table 5 view"):stdout.index("Weights:")].splitlines()
    assert any("Eff%" in line for line in table)
    [pte_row] = [line for line in table if " pte " in line]
    assert f" {100 * records['pte']['efficiency']['efficiency']:.0f} " in pte_row


class _FakeDevice:
    """A device whose runner answers every job at once: 2 ms per inference, or an error for the calibration."""

    name = "fake"

    def __init__(self, calibration_error: str | None = None):
        self.jobs: list[dict] = []
        self.calibration_error = calibration_error

    def run(self, artifact, inputs, job, settings, workdir):
        self.jobs.append(job)
        failed = self.calibration_error is not None and job["role"] == "calibration"
        return DeviceRun(runner_result={"status": "error" if failed else "ok", "error": self.calibration_error,
                                        "role": job["role"], "latencies_ms": [] if failed else [2.0] * 20})


def _peaks(device, tmp_path) -> PeakMeter:
    return PeakMeter(device, RunSettings(), tmp_path)


def _record(median_ms: float = 4.0) -> dict:
    return {"errors": [], "latency": {"stats": {"median_ms": median_ms}}}


def test_the_calibration_runs_once_per_precision_and_thread_count(tmp_path):
    device, manifest = _FakeDevice(), {"complexity": {"macs": 1_000_000}}
    peaks = _peaks(device, tmp_path)
    blocks = [efficiency_block(_record(), get_format(fmt), threads, manifest, peaks)
              for fmt in ("pte", "pte-int8") for threads in (1, 2) for _ in range(3)]
    assert all(block["status"] == "ok" for block in blocks)
    calibration_jobs = [job for job in device.jobs if job["role"] == "calibration"]
    assert sorted((job["format"], job["threads"]) for job in calibration_jobs) == [
        ("pte", 1), ("pte", 2), ("pte-int8", 1), ("pte-int8", 2)]
    assert {job["iterations"] for job in calibration_jobs} == {CALIBRATION_JOB.iterations}


def test_a_failed_calibration_is_one_line_in_the_errors_and_the_run_keeps_its_figures(tmp_path):
    device = _FakeDevice(calibration_error="out of memory")
    peaks = _peaks(device, tmp_path)
    records = [_record(), _record()]
    blocks = [efficiency_block(record, get_format("pte"), 2, {"complexity": {"macs": 10}}, peaks)
              for record in records]
    for record, block in zip(records, blocks):
        assert block["status"] == "unavailable" and "out of memory" in block["reason"]
        [line] = record["errors"]
        assert line.startswith("calibration: ") and "out of memory" in line
        assert record["latency"]["stats"] == {"median_ms": 4.0}
    assert len(device.jobs) == 1  # the failure is kept for the run, not retried per record


def test_a_network_faster_than_the_peak_has_it_measured_again_once_and_the_faster_kept(tmp_path):
    class SlowFirst(_FakeDevice):
        """The first calibration meets a slow phase: 20 ms an inference, then 2 ms."""

        def run(self, artifact, inputs, job, settings, workdir):
            run = super().run(artifact, inputs, job, settings, workdir)
            calibrations = sum(j["role"] == "calibration" for j in self.jobs)
            if job["role"] == "calibration" and calibrations == 1:
                run.runner_result["latencies_ms"] = [20.0] * 20
            return run

    steady = _peaks(_FakeDevice(), tmp_path).peak("fp32", 2)["peak_macs_per_s"]
    macs = int(0.5 * steady * 0.004)  # at 4 ms the network reaches half the steady peak
    device = SlowFirst()
    peaks = _peaks(device, tmp_path)
    first = efficiency_block(_record(), get_format("pte"), 2, {"complexity": {"macs": macs}}, peaks)
    assert first["efficiency"] == pytest.approx(0.5, rel=1e-3) and first["calibration"]["runs"] == 2
    assert first["calibration"]["median_ms"] == 2.0
    # a network faster still than the kept peak does not calibrate a third time: the record says what it measured
    fast = efficiency_block(_record(1.0), get_format("pte"), 2, {"complexity": {"macs": macs}}, peaks)
    assert fast["efficiency"] == pytest.approx(2.0, rel=1e-3)
    assert sum(job["role"] == "calibration" for job in device.jobs) == 2


def test_an_artifact_whose_manifest_has_no_macs_says_export_it_again(tmp_path):
    device = _FakeDevice()
    block = efficiency_block(_record(), get_format("pte"), 0, {"sha256": "0" * 64}, _peaks(device, tmp_path))
    assert block == {"status": "unavailable", "reason": calibration.NO_MACS_REASON}
    assert device.jobs == []


def test_a_phone_lost_during_the_calibration_is_tried_again_once_it_is_back(tmp_path):
    from cmx_bench.errors import DeviceError

    class Flaky(_FakeDevice):
        def run(self, artifact, inputs, job, settings, workdir):
            if not self.jobs:
                self.jobs.append(job)
                raise DeviceError("device 127.0.0.1:5555 disconnected (device offline)")
            return super().run(artifact, inputs, job, settings, workdir)

    device = Flaky()
    peaks = _peaks(device, tmp_path)
    record = _record()
    lost = efficiency_block(record, get_format("pte"), 2, {"complexity": {"macs": 10}}, peaks)
    assert lost["status"] == "unavailable" and "disconnected" in lost["reason"]
    back = efficiency_block(_record(), get_format("pte"), 2, {"complexity": {"macs": 10}}, peaks)
    assert back["status"] == "ok" and len(device.jobs) == 2
