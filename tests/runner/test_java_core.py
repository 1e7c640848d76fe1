"""The plain-Java runner core and the host runner write results that validate against the one shared schema."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cmx_bench.export.service import export_to_folder
from cmx_bench.runner.host import run_job
from cmx_bench.runner.protocol import JobSettings, make_job, validation_errors

CORE = Path(__file__).resolve().parents[2] / "android_runner" / "core"
JAVAC = shutil.which("javac")


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    out = tmp_path_factory.mktemp("java-core")
    sources = [str(p) for p in (CORE / "src" / "main" / "java").rglob("*.java")]
    subprocess.run([JAVAC, "-d", str(out), *sources], check=True, capture_output=True)
    return out


def _job(tmp_path, artifact, fmt, runtime):
    for index in range(2):
        np.full((1, 3, 224, 224), 0.1 * (index + 1), dtype="<f4").tofile(tmp_path / f"in{index}.f32")
    job = make_job(artifact=artifact, fmt=fmt, runtime=runtime, input_shape=[1, 3, 224, 224],
                   inputs=["in0.f32", "in1.f32"], settings=JobSettings(warmup=1, iterations=5, min_duration_s=0.0,
                                                                       settle_s=0.0), return_outputs=True)
    (tmp_path / "job.json").write_text(json.dumps(job))
    return job


@pytest.mark.skipif(JAVAC is None, reason="the JDK is installed by .ci/run (default-jdk-headless)")
def test_java_core_and_host_runner_results_share_one_schema(java_classes, tmp_path):
    _job(tmp_path, "model.pte", "pte", "executorch")
    subprocess.run(["java", "-cp", str(java_classes), "org.cmxbench.runner.core.HostMain", str(tmp_path / "job.json"),
                    str(tmp_path / "java-result.json")], check=True, capture_output=True, timeout=120)
    java_result = json.loads((tmp_path / "java-result.json").read_text())
    assert validation_errors(java_result, "result") == []
    assert java_result["status"] == "ok" and len(java_result["latencies_ms"]) == 5 and len(java_result["outputs"]) == 2

    [(artifact, _)] = export_to_folder("squeezenet1_1", ["ptl"], tmp_path / "artifact")
    host_job = _job(tmp_path, str(artifact), "ptl", "pytorch_lite")
    host_result = run_job(host_job, tmp_path)
    assert validation_errors(host_result, "result") == []
    assert set(java_result) == set(host_result)  # the same fields, in the same protocol


@pytest.mark.skipif(JAVAC is None, reason="the JDK is installed by .ci/run (default-jdk-headless)")
def test_java_core_reports_a_bad_input_file_as_a_failure(java_classes, tmp_path):
    _job(tmp_path, "model.pte", "pte", "executorch")
    np.zeros(10, dtype="<f4").tofile(tmp_path / "in1.f32")
    done = subprocess.run(["java", "-cp", str(java_classes), "org.cmxbench.runner.core.HostMain",
                           str(tmp_path / "job.json"), str(tmp_path / "r.json")], capture_output=True, text=True)
    assert done.returncode != 0 and "holds 10 floats" in done.stderr and not (tmp_path / "r.json").exists()


JUNIT = Path("/usr/share/java/junit4.jar")


@pytest.mark.skipif(JAVAC is None or not JUNIT.is_file(), reason="JDK and junit4 are installed by .ci/run")
def test_java_core_junit_suite_passes():
    done = subprocess.run(["bash", str(CORE / "build.sh")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "OK (" in done.stdout
