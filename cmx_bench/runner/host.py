"""The host reference runner: load an artifact, time it per the job, write result.json."""

from __future__ import annotations

import gc
import json
import os
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


def _first_line(exc: Exception, limit: int = 300) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:limit]


def run_job(job: dict, base: Path) -> dict:
    """Execute one job; every failure becomes status 'error' with a one-line message."""
    from cmx_bench.export.loaders import load_artifact, set_threads

    phases, inputs, model = {"start": time.time()}, [], None
    result = {"protocol_version": PROTOCOL_VERSION, "status": "ok", "error": None,
              "runner": {"name": "cmx-bench-host", "version": __version__},
              "runtime": {"name": job["runtime"], "version": runtime_versions()[job["runtime"]],
                          "threads_requested": job["threads"], "threads": None},
              "phases": phases, "load_ms": None, "first_inference_ms": None,
              "warm_load_ms": None, "warm_first_inference_ms": None, "latencies_ms": [], "outputs": None}
    if "role" in job:  # echoed, so that a result read on its own says whether it timed a network or the calibration
        result["role"] = job["role"]
    try:
        import torch

        throttle = played_throttle()
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
            _timed_loop(job, model, inputs, result["latencies_ms"], throttle)
            _mark(phases, "measure_end")
            if job["return_outputs"]:
                result["outputs"] = [[float(v) for v in model(x).reshape(-1)] for x in inputs]
            time.sleep(job.get("hold_s", 0.0))
    except Exception as exc:  # the protocol reports failures in result.json, never as a traceback
        result["status"] = "error"
        result["error"] = _first_line(exc)
    phases["end"] = time.time()
    if result["status"] != "ok":
        return result
    # After 'end', so that the timed, CPU, memory and energy figures never include the warm load or profiling.
    model = None  # release the timed model: the warm load must not find its memory still in use
    gc.collect()
    model = _warm_load(job, base, inputs, result)
    if job.get("profile_iterations"):
        result["profile"] = _profile(job, base, inputs, model)
        phases["profile_end"] = time.time()
    return result


def _timed_loop(job: dict, model, inputs: list, latencies: list, throttle: tuple[float, float] | None) -> None:
    """Time inferences until both the iteration count and the minimum duration are reached (or the cap)."""
    started = time.perf_counter()
    limit = job.get("max_iterations", 100_000)
    while len(latencies) < limit and (len(latencies) < job["iterations"]
                                      or time.perf_counter() - started < job["min_duration_s"]):
        x = inputs[len(latencies) % len(inputs)]
        slowed = throttle is not None and time.perf_counter() - started >= throttle[0]
        tic = time.perf_counter_ns()
        model(x)
        if slowed:  # inside the timed interval, so that the recorded latency is factor x the inference's own
            time.sleep((throttle[1] - 1) * (time.perf_counter_ns() - tic) / 1e9)
        latencies.append((time.perf_counter_ns() - tic) / 1e6)


def _warm_load(job: dict, base: Path, inputs: list, result: dict):
    """Load the artifact again in this process and time the load and its first inference; None when it fails.

    Files are cached and the runtime initialised by now: this is what an app sees when it reopens a model. A failure
    goes into warm_load_error and leaves the run ok, with its cold and timed figures."""
    import torch

    from cmx_bench.export.loaders import load_artifact

    phases = result["phases"]
    phases["warm_load_start"] = time.time()
    try:
        tic = time.perf_counter()
        model = load_artifact(base / job["artifact"], job["runtime"])
        result["warm_load_ms"] = (time.perf_counter() - tic) * 1e3
        phases["warm_load_end"] = time.time()
        with torch.inference_mode():
            tic = time.perf_counter()
            model(inputs[0])
            result["warm_first_inference_ms"] = (time.perf_counter() - tic) * 1e3
        return model
    except Exception as exc:
        phases.setdefault("warm_load_end", time.time())
        result["warm_load_error"] = _first_line(exc)
        return None


# The virtual phone plays a phone that slows down (thermal throttling) with this set to JSON {"after_s": seconds into
# the timed phase, "factor": > 1}: each timed inference that starts that long after timing began takes factor times
# its own latency (the phone raises its thermal status at the same moment: it sees the measure_start mark). Warm-up,
# outputs, the warm load and profiles are not slowed.
THROTTLE_ENV = "CMX_BENCH_RUNNER_THROTTLE"
# The virtual phone plays a runtime built without profiling (as executorch-android is by default) with this set.
NO_PROFILING_ENV = "CMX_BENCH_RUNNER_NO_PROFILING"
# The virtual phone plays the app, which may write only inside its own files folder, with this set to that folder.
PROFILE_DIR_ENV = "CMX_BENCH_RUNNER_PROFILE_DIR"


def played_throttle() -> tuple[float, float] | None:
    """(after_s, factor) from THROTTLE_ENV, or None when it is unset; a malformed value is an error of the run."""
    raw = os.environ.get(THROTTLE_ENV)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        after, factor = float(spec["after_s"]), float(spec["factor"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{THROTTLE_ENV} must hold JSON {{\"after_s\": seconds, \"factor\": > 1}}, "
                         f"not {raw[:80]!r}") from exc
    if not factor > 1:
        raise ValueError(f"{THROTTLE_ENV}: factor must be above 1, not {factor}")
    return after, factor


def _profile(job: dict, base: Path, inputs: list, reference_model) -> dict:
    """Run the artifact again with ExecuTorch's ETDump on and write it where the job says; or say why not.

    Each profiled inference follows one unprofiled inference of the reference model (the warm-loaded one: the timed
    one is released by then), whose latency is reported as a reference: the two then see the same machine, so
    operator time can be compared with unprofiled time without the drift that separates the timed phase from this
    one. Without a reference model (the warm load failed) no reference latencies are reported."""
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
                if reference_model is not None:
                    tic = time.perf_counter_ns()
                    reference_model(x)
                    reference.append((time.perf_counter_ns() - tic) / 1e6)
                tic = time.perf_counter_ns()
                module.forward([x])
                profiled.append((time.perf_counter_ns() - tic) / 1e6)
        name = job.get("profile_file", "profile.etdump")
        app_files = os.environ.get(PROFILE_DIR_ENV)
        target = Path(app_files) / Path(name).name if app_files else base / name
        module.write_etdump_result_to_file(str(target))
        written = {"status": "written", "iterations": iterations, "file": Path(name).name if app_files else name,
                   "location": "app_files" if app_files else "job_dir", "reason": None}
        if reference_model is not None:
            written["reference_latencies_ms"] = reference
        return {**written, "profiled_latencies_ms": profiled}
    except Exception as exc:
        return {"status": "unavailable", "iterations": 0, "file": None,
                "reason": f"ETDump could not be recorded: {_first_line(exc, 200)}"}


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
