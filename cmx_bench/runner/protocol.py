"""Build and validate runner jobs and results against the schema shared with the Android app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import jsonschema

from cmx_bench import paths
from cmx_bench.errors import RunnerError

PROTOCOL_VERSION = 1
# What a job times: a network, or the calibration program that measures the device's peak (results echo it).
ROLES = ("network", "calibration")


@lru_cache(maxsize=None)
def _validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads(paths.protocol_schema_path().read_text())
    schema = {**schema, "$ref": f"#/$defs/{kind}"}
    return jsonschema.Draft202012Validator(schema)


def validation_errors(document: dict, kind: str) -> list[str]:
    """Every schema violation of a 'job' or 'result' document, as short strings (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:120]}"
            for e in _validator(kind).iter_errors(document)]


def validate(document: dict, kind: str, source: str) -> dict:
    errors = validation_errors(document, kind)
    if errors:
        raise RunnerError(f"{kind} from {source} does not follow the runner protocol: {errors[0]}")
    return document


@dataclass(frozen=True)
class JobSettings:
    """How a runner times an artifact, the same on every device: warm-up, timed runs, threads, settle, profile."""
    warmup: int = 5
    iterations: int = 50
    min_duration_s: float = 2.0
    max_iterations: int = 100_000
    threads: int = 0  # 0 keeps the runtime's default
    settle_s: float = 0.3  # idle time before loading, so that the sampler reads a memory baseline (~13 ms a read)
    profile_iterations: int = 0  # > 0: after the timed runs, this many profiled inferences (operator profile)


def make_job(*, artifact: str, fmt: str, runtime: str, input_shape, inputs: list[str],
             settings: JobSettings = JobSettings(), return_outputs: bool = False, role: str = "network") -> dict:
    job = {
        "protocol_version": PROTOCOL_VERSION, "artifact": artifact, "format": fmt, "runtime": runtime,
        "input_shape": list(input_shape), "inputs": list(inputs), "warmup": settings.warmup,
        "iterations": settings.iterations, "min_duration_s": settings.min_duration_s,
        "max_iterations": settings.max_iterations, "threads": settings.threads, "return_outputs": return_outputs,
        "settle_s": settings.settle_s, "role": role,
    }
    if settings.profile_iterations:
        job.update(profile_iterations=settings.profile_iterations, profile_file="profile.etdump")
    return validate(job, "job", "cmx-bench")
