"""The host reference runner: load an artifact, time it per the job, write result.json."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cmx_bench import __version__
from cmx_bench.runner.protocol import PROTOCOL_VERSION, validate


def _read_inputs(job: dict, base: Path):
    import numpy as np
    import torch

    shape = tuple(job["input_shape"])
    tensors = []
    for name in job["inputs"]:
        data = np.fromfile(base / name, dtype="<f4")
        if data.size != int(np.prod(shape)):
            raise ValueError(f"input {name} holds {data.size} floats, expected {int(np.prod(shape))} for {list(shape)}")
        tensors.append(torch.from_numpy(data.reshape(shape)))
    return tensors


# The virtual phone plays an app built with other runtimes (--executorch-version) by setting this to a JSON object.
RUNTIMES_OVERRIDE_ENV = "CMX_BENCH_RUNNER_RUNTIMES"


def runtime_versions() -> dict[str, str | None]:
    """The runtimes this runner loads artifacts with: the installed executorch, and torch's lite interpreter."""
    import os
    from importlib import metadata

    versions = {}
    for runtime, package in (("executorch", "executorch"), ("pytorch_lite", "torch")):
        try:
            versions[runtime] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[runtime] = None
    return {**versions, **json.loads(os.environ.get(RUNTIMES_OVERRIDE_ENV) or "{}")}


PHASE_PREFIX = "CMX-PHASE"


def _mark(phases: dict, name: str) -> None:
    """Record a phase time and announce it on stdout, so that a host sampler can read PSS right then."""
    phases[name] = time.time()
    print(f"{PHASE_PREFIX} {name}", flush=True)


def run_job(job: dict, base: Path) -> dict:
    """Execute one job; every failure becomes status 'error' with a one-line message."""
    from cmx_bench.export.loaders import load_artifact, set_threads

    phases, inputs, model = {"start": time.time()}, [], None
    result = {"protocol_version": PROTOCOL_VERSION, "status": "ok", "error": None,
              "runner": {"name": "cmx-bench-host", "version": __version__},
              "runtime": {"name": job["runtime"], "version": runtime_versions()[job["runtime"]], "threads": 0},
              "phases": phases, "load_ms": None, "first_inference_ms": None, "latencies_ms": [], "outputs": None}
    try:
        import torch

        inputs = _read_inputs(job, base)
        result["runtime"]["threads"] = set_threads(job["runtime"], job["threads"])
        _mark(phases, "ready")
        time.sleep(job.get("settle_s", 0.0))
        phases["load_start"] = time.time()
        tic = time.perf_counter()
        model = load_artifact(base / job["artifact"], job["runtime"])
        result["load_ms"] = (time.perf_counter() - tic) * 1e3
        _mark(phases, "load_end")
        with torch.inference_mode():
            tic = time.perf_counter()
            model(inputs[0])
            result["first_inference_ms"] = (time.perf_counter() - tic) * 1e3
            for i in range(job["warmup"]):
                model(inputs[i % len(inputs)])
            _mark(phases, "measure_start")
            phases["warmup_end"] = phases["measure_start"]
            latencies, started = result["latencies_ms"], time.perf_counter()
            limit = job.get("max_iterations", 100_000)
            while len(latencies) < limit and (len(latencies) < job["iterations"]
                                              or time.perf_counter() - started < job["min_duration_s"]):
                x = inputs[len(latencies) % len(inputs)]
                tic = time.perf_counter_ns()
                model(x)
                latencies.append((time.perf_counter_ns() - tic) / 1e6)
            _mark(phases, "measure_end")
            if job["return_outputs"]:
                result["outputs"] = [[float(v) for v in model(x).reshape(-1)] for x in inputs]
            time.sleep(job.get("hold_s", 0.0))
    except Exception as exc:  # the protocol reports failures in result.json, never as a traceback
        result["status"] = "error"
        result["error"] = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    phases["end"] = time.time()
    if result["status"] == "ok" and job.get("profile_iterations"):
        # After 'end', so that the timed, CPU, memory and energy figures never include profiling.
        result["profile"] = _profile(job, base, inputs, model)
        phases["profile_end"] = time.time()
    return result


# The virtual phone plays a runtime built without profiling (as executorch-android is by default) with this set.
NO_PROFILING_ENV = "CMX_BENCH_RUNNER_NO_PROFILING"
# The virtual phone plays the app, which may write only inside its own files folder, with this set to that folder.
PROFILE_DIR_ENV = "CMX_BENCH_RUNNER_PROFILE_DIR"


def _profile(job: dict, base: Path, inputs: list, timed_model) -> dict:
    """Run the artifact again with ExecuTorch's ETDump on and write it where the job says; or say why not.

    Each profiled inference follows one unprofiled inference of the timed model, whose latency is reported as a
    reference: the two then see the same machine, so operator time can be compared with unprofiled time without
    the drift that separates the timed phase from this one."""
    import os

    iterations = job["profile_iterations"]
    if job["runtime"] != "executorch":
        return {"status": "unavailable", "iterations": 0, "file": None,
                "reason": "the PyTorch Lite interpreter exposes no per-operator profiler to Python (torch "
                          f"{runtime_versions()['pytorch_lite']}); only .pte programs are profiled"}
    if os.environ.get(NO_PROFILING_ENV):
        return {"status": "unavailable", "iterations": 0, "file": None,
                "reason": os.environ[NO_PROFILING_ENV]}
    try:
        import torch

        from cmx_bench.export.loaders import native_stderr_silenced

        with native_stderr_silenced():
            from executorch.extension.pybindings import portable_lib

            module = portable_lib._load_for_executorch(str(base / job["artifact"]), enable_etdump=True)
        reference, profiled = [], []
        with torch.inference_mode():
            for i in range(iterations):
                x = inputs[i % len(inputs)]
                tic = time.perf_counter_ns()
                timed_model(x)
                reference.append((time.perf_counter_ns() - tic) / 1e6)
                tic = time.perf_counter_ns()
                module.forward([x])
                profiled.append((time.perf_counter_ns() - tic) / 1e6)
        name = job.get("profile_file", "profile.etdump")
        app_files = os.environ.get(PROFILE_DIR_ENV)
        target = Path(app_files) / Path(name).name if app_files else base / name
        module.write_etdump_result_to_file(str(target))
        return {"status": "written", "iterations": iterations, "file": Path(name).name if app_files else name,
                "location": "app_files" if app_files else "job_dir", "reason": None,
                "reference_latencies_ms": reference, "profiled_latencies_ms": profiled}
    except Exception as exc:
        return {"status": "unavailable", "iterations": 0, "file": None,
                "reason": f"ETDump could not be recorded: {(str(exc).splitlines() or [type(exc).__name__])[0][:200]}"}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m cmx_bench.runner JOB.json RESULT.json", file=sys.stderr)
        return 2
    from cmx_bench.fileio import write_json_atomic

    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = validate(json.loads(job_path.read_text()), "job", str(job_path))
    result = run_job(job, job_path.parent)
    write_json_atomic(result_path, validate(result, "result", "host runner"))
    return 0 if result["status"] == "ok" else 3
