import json

import numpy as np
import pytest

from cmx_bench.data.preprocess import generated_inputs, write_raw_float32
from cmx_bench.export.service import export_to_folder
from cmx_bench.nets.registry import get_card
from cmx_bench.runner.host import main, run_job
from cmx_bench.runner.protocol import make_job, validation_errors


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
                   inputs=files, warmup=1, iterations=7, min_duration_s=0.0, return_outputs=True, settle_s=0.0)
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
                   inputs=files, warmup=0, iterations=1, min_duration_s=0.3, settle_s=0.0)
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
                   inputs=files, settle_s=0.0)
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
