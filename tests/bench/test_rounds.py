"""`run --rounds N`: every (model, format) timed once per round, in turn; the record pools the rounds' latencies,
keeps each round's median and restates the efficiency; a failed round keeps the rounds before it."""

import json
import statistics
import time
from pathlib import Path

import pytest

from cmx_bench.bench import session
from cmx_bench.devices.base import DeviceRun
from cmx_bench.devices.registry import resolve_device
from cmx_bench.errors import DeviceError
from cmx_bench.results.record import record_errors
from tests.records import make_record

ARGS = ("run", "-m", "squeezenet1_1", "-f", "pte", "-f", "pte-int8", "--threads", "1", "--no-sampling")


class DriftingDevice:
    """The local device's facts and runtimes, with a runner that answers at once: a network's inferences take
    1 ms (fp32) or 0.5 ms (int8), twice that while the device is slowed (its calls listed in `slow_calls`), and
    the network call numbered `lost_at` raises DeviceError (a phone unplugged) or `interrupt_at` Ctrl-C."""

    def __init__(self, slow_calls=(), lost_at=None, interrupt_at=None, cpu_s_per_inference=None):
        self.local = resolve_device("local")
        self.name, self.profile = self.local.name, self.local.profile
        self.slow_calls, self.lost_at, self.interrupt_at = set(slow_calls), lost_at, interrupt_at
        self.cpu_s_per_inference = cpu_s_per_inference  # a sampled run's CPU time, when given
        self.network_jobs: list[dict] = []

    def facts(self):
        return self.local.facts()

    def runtimes(self):
        return self.local.runtimes()

    def run(self, artifact, inputs, job, settings, workdir):
        if job["role"] == "calibration":
            return DeviceRun(self._result(job, [0.01] * 5))
        self.network_jobs.append(job)
        call = len(self.network_jobs)
        if call == self.lost_at:
            raise DeviceError("device fake disconnected (device offline); plug it in and run again")
        if call == self.interrupt_at:
            raise KeyboardInterrupt
        ms = (0.5 if job["format"] == "pte-int8" else 1.0) * (2 if call in self.slow_calls else 1)
        latencies = [ms] * 4 + [ms * 1.1]
        cpu = {} if self.cpu_s_per_inference is None else {"cpu_seconds": self.cpu_s_per_inference * len(latencies)}
        return DeviceRun(self._result(job, latencies), cpu=cpu)

    def _result(self, job, latencies):
        now = time.time()
        return {"protocol_version": job["protocol_version"], "status": "ok", "error": None, "role": job["role"],
                "runner": {"name": "drifting", "version": "1"},
                "runtime": {"name": job["runtime"], "version": "1.5.1", "threads_requested": job["threads"],
                            "threads": job["threads"]},
                "phases": {"start": now, "load_start": now, "load_end": now, "measure_start": now,
                           "measure_end": now, "end": now},
                "load_ms": 1.0, "first_inference_ms": 1.0, "warm_load_ms": 1.0, "warm_first_inference_ms": 1.0,
                "latencies_ms": latencies, "outputs": None}


@pytest.fixture
def drifting(monkeypatch):
    def install(**kwargs):
        device = DriftingDevice(**kwargs)
        monkeypatch.setattr(session, "resolve_device", lambda name, android=None: device)
        return device
    return install


def _records(out: Path) -> dict[str, dict]:
    """The run's records by format; one file per record."""
    records = [json.loads(p.read_text()) for p in out.glob("*/records/*.json")]
    by_format = {record["config"]["format"]: record for record in records}
    assert len(by_format) == len(records)
    return by_format


def test_rounds_interleave_the_networks_and_the_record_pools_them(drifting, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    # the device slows down in rounds 2 and 3, for both formats alike: the pooled median is no longer round 1's
    device = drifting(slow_calls={3, 4, 5, 6})
    code, out, err = cli(*ARGS, "--profile", "--rounds", "3", "--out", tmp_path)
    assert code == 0, err
    assert [job["format"] for job in device.network_jobs] == ["pte", "pte-int8"] * 3
    # a later round times only: no profile, no outputs
    assert "profile_iterations" in device.network_jobs[0]
    assert all("profile_iterations" not in job and not job["return_outputs"] for job in device.network_jobs[2:])
    records = _records(tmp_path)
    for fmt, ms in (("pte", 1.0), ("pte-int8", 0.5)):
        record = records[fmt]
        assert record_errors(record) == [] and record["errors"] == [] and record["status"] == "ok"
        assert record["config"]["rounds"] == 3
        rounds = record["latency"]["rounds"]
        assert [entry["round"] for entry in rounds] == [1, 2, 3] and all(entry["count"] == 5 for entry in rounds)
        assert [entry["median_ms"] for entry in rounds] == [ms, 2 * ms, 2 * ms]
        samples = record["latency"]["samples_ms"]
        assert len(samples) == 15 and record["latency"]["stats"]["count"] == 15
        assert record["latency"]["stats"]["median_ms"] == statistics.median(samples) == 2 * ms
        efficiency = record["efficiency"]
        assert efficiency["x_floor"] == pytest.approx(statistics.median(samples) / efficiency["latency_floor_ms"])
    assert "pooled over 3 interleaved rounds" in out and "changed 2.00x between rounds" in out
    assert "pooled over 3 interleaved rounds" in next(tmp_path.glob("*/report.md")).read_text()
    # the drift fell on both formats alike: every round gives int8 half the fp32 time
    paired = ("squeezenet1_1 pte-int8 on local at 1 thread: 0.50x its pte's time, median of 3 per-round ratios "
              "(0.50-0.50)")
    assert paired in out and paired in next(tmp_path.glob("*/report.md")).read_text()


def test_a_round_that_fails_keeps_the_rounds_before_it_and_the_run_says_so(drifting, cli, tmp_path):
    device = drifting(lost_at=4)  # the int8 program's second round
    code, _, err = cli(*ARGS, "--rounds", "3", "--out", tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "round 2 of 3 failed" in err and "measured results are kept in" in err
    records = _records(tmp_path)
    assert [len(records[fmt]["latency"]["rounds"]) for fmt in ("pte", "pte-int8")] == [3, 1]
    failed = records["pte-int8"]
    assert failed["status"] == "ok" and record_errors(failed) == []
    [line] = failed["errors"]
    assert "round 2 of 3 failed (device fake disconnected" in line and "latency pools round 1" in line
    assert len(failed["latency"]["samples_ms"]) == 5
    # its later rounds were not tried again; the other format's went on
    assert [job["format"] for job in device.network_jobs] == ["pte", "pte-int8", "pte", "pte-int8", "pte"]


def test_ctrl_c_in_a_later_round_writes_the_rounds_measured_and_the_report(drifting, cli, tmp_path):
    drifting(interrupt_at=3)
    code, _, _ = cli(*ARGS, "--rounds", "2", "--out", tmp_path)
    assert code != 0
    records = _records(tmp_path)
    assert set(records) == {"pte", "pte-int8"}
    assert all(len(record["latency"]["rounds"]) == 1 for record in records.values())
    assert all(record["errors"] == ["stopped after 1 of 2 rounds; latency pools round 1"]
               for record in records.values())
    assert next(tmp_path.glob("*/report.md")).is_file()


def test_a_run_killed_outright_keeps_each_records_last_round_in_pending(drifting, cli, tmp_path, monkeypatch):
    import shutil

    from cmx_bench.results.store import load_records

    device = drifting()
    run, killed = device.run, tmp_path / "killed"

    def run_then_copy(artifact, inputs, job, settings, workdir):
        if job["role"] != "calibration" and len(device.network_jobs) == 4:  # round 3 is about to start
            shutil.copytree(tmp_path / "out", killed)  # the run folder as a SIGKILL here would leave it
        return run(artifact, inputs, job, settings, workdir)

    monkeypatch.setattr(device, "run", run_then_copy)
    code, _, err = cli(*ARGS, "--rounds", "3", "--out", tmp_path / "out")
    assert code == 0, err
    [run_dir] = (tmp_path / "out").iterdir()
    assert not (run_dir / "pending").exists() and len(list((run_dir / "records").iterdir())) == 2
    assert not (killed / run_dir.name / "records").exists()
    kept = {record["config"]["format"]: record for record in load_records([killed])}
    assert set(kept) == {"pte", "pte-int8"}
    for record in kept.values():
        assert record["status"] == "ok" and len(record["latency"]["rounds"]) == 2
        assert record["errors"] == ["the run stopped after round 2 of 3; latency pools rounds 1-2 (a checkpoint)"]
        assert record["checkpoint"] == {"round": 2, "rounds": 3}
    code, _, err = cli("report", str(killed), "--out", str(tmp_path / "report"))
    assert code == 0, err
    assert "the run stopped after round 2 of 3" in (tmp_path / "report" / "report.md").read_text()
    # a baseline is made of finished runs only
    code, _, err = cli("baseline", "save", "nightly", str(killed), "--root", str(tmp_path / "baselines"))
    assert code != 0 and len(err.strip().splitlines()) == 1 and "is a checkpoint (round 2 of 3)" in err
    assert not (tmp_path / "baselines" / "nightly").exists()


def test_a_checkpoint_after_a_failed_round_does_not_say_the_run_stopped(tmp_path):
    record = make_record()
    record["errors"] = ["round 2 of 3 failed (device gone); latency pools round 1"]
    session._checkpoint(record, tmp_path, 2, 3, timing=False)
    [path] = (tmp_path / "pending").iterdir()
    kept = json.loads(path.read_text())
    assert kept["errors"] == record["errors"] and kept["checkpoint"] == {"round": 2, "rounds": 3}


def test_rounds_with_a_sustained_run_are_refused_before_anything_runs(drifting, cli, tmp_path):
    device = drifting()
    code, _, err = cli(*ARGS, "--rounds", "2", "--sustained", "5", "--out", tmp_path / "out")
    assert code == 1 and "--rounds 2 with --sustained" in err and len(err.strip().splitlines()) == 1
    assert device.network_jobs == [] and not (tmp_path / "out").exists()


def test_one_round_writes_no_rounds_block(drifting, cli, tmp_path):
    drifting()
    code, out, err = cli(*ARGS, "--out", tmp_path)
    assert code == 0, err
    assert all("rounds" not in record["latency"] and record["config"]["rounds"] == 1
               for record in _records(tmp_path).values())
    assert "interleaved rounds" not in out


def test_cpu_per_inference_divides_round_ones_cpu_by_round_ones_inferences(drifting, cli, tmp_path):
    from cmx_bench.results.metrics import cpu_ms_per_inference

    drifting(cpu_s_per_inference=0.004)  # the CPU is sampled in round 1 only
    code, _, err = cli(*ARGS, "--rounds", "3", "--out", tmp_path)
    assert code == 0, err
    for record in _records(tmp_path).values():
        assert len(record["latency"]["samples_ms"]) == 15
        assert cpu_ms_per_inference(record) == pytest.approx(4.0)


def test_a_zero_round_median_does_not_break_the_report_note():
    from cmx_bench.report.run_conditions import run_condition_notes

    record = {"config": {"model": "m", "format": "pte", "device": "d", "threads": 0}, "status": "ok",
              "latency": {"rounds": [{"round": 1, "count": 1, "median_ms": 0.0},
                                     {"round": 2, "count": 1, "median_ms": 1.0}]}}
    [note] = run_condition_notes([record])
    assert "pooled over 2 interleaved rounds" in note and "changed" not in note
