"""Will the device's runtime load this artifact? Exporter and program facts against the runtime the runner reports."""

from __future__ import annotations

import json
from functools import lru_cache

from packaging.version import InvalidVersion, Version

from cmx_bench import paths
from cmx_bench.errors import CmxError


class VersionSkewError(CmxError):
    """An artifact the device's runtime is not known to load; --allow-version-skew runs it anyway."""


def _version(text: str | None) -> Version | None:
    try:
        return Version(str(text)) if text else None
    except InvalidVersion:
        return None


@lru_cache(maxsize=None)
def lite_runtime_table(version: str) -> dict | None:
    """What a PyTorch Lite release reads (bytecode versions, operators with argument counts), or None if unknown.
    Tables are made by android_runner/runtimes/make_pytorch_lite_table.py in that release's own Python."""
    path = paths.project_root() / "android_runner" / "runtimes" / f"pytorch_lite-{version}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _executorch_problem(exporter: str | None, device: str | None) -> str | None:
    made, runs = _version(exporter), _version(device)
    if made is None or runs is None:
        return (f"the versions cannot be compared (exported by ExecuTorch {exporter or 'unknown'}, runtime "
                f"{device or 'unknown'})")
    if made.release > runs.release:
        return (f"exported by ExecuTorch {exporter}, newer than the device's ExecuTorch {device} runtime "
                "(ExecuTorch loads older programs, not newer ones)")
    return None


def _lite_problem(facts: dict, exporter_torch: str | None, device: str | None) -> str | None:
    made, runs = _version(exporter_torch), _version(device)
    if made is not None and runs is not None and made.release == runs.release:
        return None  # the runtime is the exporter's own torch (the host runner)
    table = lite_runtime_table(device) if device else None
    if table is None:
        return (f"made by torch {exporter_torch}; there is no record of what PyTorch Lite {device or 'unknown'} "
                "reads (android_runner/runtimes/)")
    low, high = table["bytecode_versions"]
    version = facts.get("bytecode_version")
    if version is None or not low <= version <= high:
        return f"bytecode version {version}, PyTorch Lite {device} reads {low} to {high}"
    known = table["operators"]
    missing = sorted(op for op in facts.get("operators", {}) if op not in known)
    if missing:
        return f"operators unknown to PyTorch Lite {device}: {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else "")
    newer = sorted(op for op, args in facts.get("operators", {}).items() if args > known[op])
    if newer:
        return f"operators with more arguments than PyTorch Lite {device} knows: {', '.join(newer[:3])}"
    return None


def runtime_problem(runtime: str, manifest: dict, device_runtimes: dict) -> str | None:
    """Why the device's runtime may not load the artifact described by `manifest`, or None when it will."""
    exporter = manifest.get("versions") or {}
    device = device_runtimes.get(runtime)
    if runtime == "executorch":
        return _executorch_problem(exporter.get("executorch"), device)
    return _lite_problem(manifest.get("program") or {}, exporter.get("torch"), device)


def check_artifact_runtime(label: str, runtime: str, manifest: dict, device_name: str, device_runtimes: dict,
                           allow_skew: bool) -> dict:
    """The compatibility block of a record; raises VersionSkewError (one line, both versions, the fix) unless allowed."""
    problem = runtime_problem(runtime, manifest, device_runtimes)
    exporter = (manifest.get("versions") or {}).get("executorch" if runtime == "executorch" else "torch")
    block = {"runtime": runtime, "device_runtime_version": device_runtimes.get(runtime),
             "exporter_version": exporter, "compatible": problem is None, "problem": problem,
             "skew_allowed": bool(problem and allow_skew), "reported_by": device_runtimes.get("reported_by")}
    if problem and not allow_skew:
        fix = ("export with the executorch package the runner has, or build the runner with the exporter's version "
               "(android_runner/gradle.properties)" if runtime == "executorch"
               else "export with a torch whose .ptl that runtime reads")
        raise VersionSkewError(f"{label} may not load on {device_name}: {problem}; {fix}, or pass "
                               "--allow-version-skew to try anyway")
    return block
