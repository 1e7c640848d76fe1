import json

import numpy as np
import pytest

from cmx_bench.data.preprocess import generated_inputs, write_raw_float32
from cmx_bench.export.service import export_to_folder
from cmx_bench.nets.registry import get_card
from cmx_bench.runner.host import main, run_job
from cmx_bench.runner.protocol import JobSettings, make_job, validation_errors


@pytest.fixture(scope="module")
def ptl_artifact(tmp_path_factory):
    [(path, _)] = export_to_folder("squeezenet1_1", ["ptl"], tmp_path_factory.mktemp("ptl"))
    return path


def _inputs(tmp_path, count=2):
    card = get_card("squeezenet1_1")
    files = []
    for index, tensor in enumerate(generated_inputs(card, count)):
        write_raw_float32(tensor, tmp_path / f"in{index}.f32")
        files.append(f"in{index}.f32")
    return card, files


def test_job_and_result_follow_the_protocol(ptl_artifact, tmp_path):
    card, files = _inputs(tmp_path)
    job = make_job(artifact=str(ptl_artifact), fmt="ptl", runtime="pytorch_lite", input_shape=card.input_shape,
                   inputs=files, settings=JobSettings(warmup=1, iterations=7, min_duration_s=0.0, settle_s=0.0),
                   return_outputs=True)
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert main([str(tmp_path / "job.json"), str(tmp_path / "result.json")]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert validation_errors(result, "result") == []
    assert result["status"] == "ok" and len(result["latencies_ms"]) == 7
    assert len(result["outputs"]) == 2 and all(abs(sum(p) - 1) < 1e-5 for p in result["outputs"])
    phases = result["phases"]
    assert phases["load_start"] <= phases["load_end"] <= phases["measure_start"] <= phases["measure_end"]


def test_min_duration_extends_the_timed_loop(ptl_artifact, tmp_path):
    card, files = _inputs(tmp_path, 1)
    job = make_job(artifact=str(ptl_artifact), fmt="ptl", runtime="pytorch_lite", input_shape=card.input_shape,
                   inputs=files, settings=JobSettings(warmup=0, iterations=1, min_duration_s=0.3, settle_s=0.0))
    result = run_job(job, tmp_path)
    # Timed until 0.3 s had passed (less what runs between inferences): several inferences, unless one alone took
    # that long, as on a loaded machine.
    latencies = result["latencies_ms"]
    assert sum(latencies) >= 300 * 0.8 and (len(latencies) > 1 or latencies[0] >= 300 * 0.8)
    assert result["phases"]["measure_end"] - result["phases"]["measure_start"] >= 0.3


def test_corrupt_artifact_and_bad_input_become_error_results(tmp_path):
    card, files = _inputs(tmp_path, 1)
    (tmp_path / "bad.pte").write_bytes(b"garbage" * 100)
    job = make_job(artifact="bad.pte", fmt="pte", runtime="executorch", input_shape=card.input_shape,
                   inputs=files, settings=JobSettings(settle_s=0.0))
    result = run_job(job, tmp_path)
    assert result["status"] == "error" and "could not be loaded" in result["error"]
    assert validation_errors(result, "result") == []
    np.zeros(10, dtype="<f4").tofile(tmp_path / "short.f32")
    job["inputs"] = ["short.f32"]
    result = run_job(job, tmp_path)
    assert result["status"] == "error" and "holds 10 floats" in result["error"]


def test_schema_rejects_a_job_without_iterations():
    job = make_job(artifact="a.pte", fmt="pte", runtime="executorch", input_shape=[1, 3, 8, 8], inputs=["x"])
    del job["iterations"]
    assert any("iterations" in error for error in validation_errors(job, "job"))


def _ptl_job(artifact, files, **overrides):
    card = get_card("squeezenet1_1")
    settings = JobSettings(**{"warmup": 1, "iterations": 3, "min_duration_s": 0.0, "settle_s": 0.0, **overrides})
    return make_job(artifact=str(artifact), fmt="ptl", runtime="pytorch_lite", input_shape=card.input_shape,
                    inputs=files, settings=settings)


@pytest.fixture
def restored_torch_threads():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the runner sets a process-wide count: leave later tests as they were


def test_threads_requested_and_in_force_are_both_reported(ptl_artifact, tmp_path, restored_torch_threads):
    _, files = _inputs(tmp_path, 1)
    one = run_job(_ptl_job(ptl_artifact, files, threads=1), tmp_path)
    assert one["runtime"]["threads_requested"] == 1 and one["runtime"]["threads"] == 1
    default = run_job(_ptl_job(ptl_artifact, files, threads=0), tmp_path)
    assert default["runtime"]["threads_requested"] == 0 and default["runtime"]["threads"] >= 1
    assert validation_errors(one, "result") == [] and validation_errors(default, "result") == []


def test_the_warm_load_comes_after_the_end_mark_and_keeps_the_cold_figures(ptl_artifact, tmp_path, monkeypatch):
    from cmx_bench.export import loaders

    _, files = _inputs(tmp_path, 1)
    loaded, original = [], loaders.load_artifact
    monkeypatch.setattr(loaders, "load_artifact", lambda *a: loaded.append(a) or original(*a))
    result = run_job(_ptl_job(ptl_artifact, files), tmp_path)
    assert result["status"] == "ok" and len(loaded) == 2 and loaded[0] == loaded[1]
    assert result["warm_load_ms"] > 0 and result["warm_first_inference_ms"] > 0 and "warm_load_error" not in result
    assert result["load_ms"] > 0 and result["first_inference_ms"] > 0
    phases = result["phases"]
    assert phases["measure_end"] <= phases["end"] <= phases["warm_load_start"] <= phases["warm_load_end"]
    assert validation_errors(result, "result") == []


def test_a_failed_warm_load_is_reported_and_the_run_stays_ok(ptl_artifact, tmp_path, monkeypatch):
    from cmx_bench.export import loaders

    _, files = _inputs(tmp_path, 1)
    original = loaders.load_artifact
    calls = []

    def second_load_fails(*args):
        calls.append(args)
        if len(calls) == 2:
            raise MemoryError("no memory left for a second copy\nnative frames")
        return original(*args)

    monkeypatch.setattr(loaders, "load_artifact", second_load_fails)
    result = run_job(_ptl_job(ptl_artifact, files), tmp_path)
    assert result["status"] == "ok" and result["error"] is None and len(result["latencies_ms"]) == 3
    assert result["warm_load_error"] == "no memory left for a second copy"
    assert result["warm_load_ms"] is None and result["warm_first_inference_ms"] is None
    assert result["load_ms"] > 0
    assert validation_errors(result, "result") == []
    del result["warm_load_error"]  # an ok result whose warm figures are null must say why
    assert any("warm_load_error" in error for error in validation_errors(result, "result"))


def test_results_of_older_runners_stay_valid(ptl_artifact, tmp_path):
    _, files = _inputs(tmp_path, 1)
    result = run_job(_ptl_job(ptl_artifact, files), tmp_path)
    for field in ("warm_load_ms", "warm_first_inference_ms"):
        del result[field]
    del result["runtime"]["threads_requested"]
    result["runtime"]["threads"] = 0  # what runner app 0.6.0 wrote for ExecuTorch
    assert validation_errors(result, "result") == []


def test_a_played_throttle_slows_the_timed_inferences_from_its_moment_on(monkeypatch):
    from cmx_bench.runner import host

    # A stand-in model and clock, so that the test judges what the throttle does, not how busy the machine is.
    clock = {"ns": 0}
    monkeypatch.setattr(host.time, "perf_counter_ns", lambda: clock["ns"])
    monkeypatch.setattr(host.time, "perf_counter", lambda: clock["ns"] / 1e9)
    monkeypatch.setattr(host.time, "sleep", lambda seconds: clock.update(ns=clock["ns"] + round(seconds * 1e9)))

    def model(x):  # each inference takes 10 ms
        clock["ns"] += 10_000_000

    job = {"iterations": 10, "min_duration_s": 0.0, "max_iterations": 100}
    plain, throttled, later = [], [], []
    host._timed_loop(job, model, [None], plain, None)
    host._timed_loop(job, model, [None], throttled, (0.045, 3.0))
    host._timed_loop(job, model, [None], later, (3600.0, 3.0))
    assert plain == later == [10.0] * 10
    # From 45 ms into timing each inference takes 3 x its own 10 ms; the five before it do not.
    assert throttled == [10.0] * 5 + [30.0] * 5


def test_a_malformed_throttle_is_an_error_result(ptl_artifact, tmp_path, monkeypatch):
    from cmx_bench.runner.host import THROTTLE_ENV

    _, files = _inputs(tmp_path, 1)
    monkeypatch.setenv(THROTTLE_ENV, json.dumps({"after_s": 0, "factor": 0.5}))
    result = run_job(_ptl_job(ptl_artifact, files), tmp_path)
    assert result["status"] == "error" and THROTTLE_ENV in result["error"]
    assert validation_errors(result, "result") == []
