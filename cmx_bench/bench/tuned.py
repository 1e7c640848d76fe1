"""Lowering choices tuned on a device, on disk: one JSON file per device, one entry per hardware, runtime, threads."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from cmx_bench import paths
from cmx_bench.errors import CmxError
from cmx_bench.export.choices import LoweringChoices, choices_of
from cmx_bench.export.targets import device_target
from cmx_bench.fileio import write_json_atomic

TUNING_VERSION = 1


def tuning_path(device_name: str) -> Path:
    """Beside the artifact cache (CMX_BENCH_CACHE moves both): what a tuning measured belongs to this machine's
    devices, as the artifacts it chose do."""
    return paths.artifact_cache_dir() / "tuning" / f"{device_name}.json"


def entry_key(facts: dict, executorch: str | None, threads: int) -> dict:
    """What a tuning holds for: the same hardware (a phone's model and ABI; the local device's CPU model and
    instruction set, since one VM name covers several CPUs), the same ExecuTorch runtime, the same thread count."""
    return {"model": facts.get("model"), "abi": facts.get("abi"), "target": device_target(facts),
            "executorch": executorch, "threads": threads}


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
        if document.get("tuning_version") != TUNING_VERSION or not isinstance(document.get("entries"), list):
            raise ValueError("not a tuning of this version")
        return document
    except (OSError, ValueError, AttributeError) as exc:
        raise CmxError(f"tuning file {path} is unreadable ({exc}); run 'cmx-bench tune' for its device again, or "
                       "delete it to use the default choices") from exc


def tuned_choices(device_name: str, facts: dict, executorch: str | None, threads: int) -> LoweringChoices | None:
    """The choices tuned for this device, hardware, runtime and thread count; None when none were."""
    path = tuning_path(device_name)
    if not path.is_file():
        return None
    key = entry_key(facts, executorch, threads)
    for entry in _read(path)["entries"]:
        if entry.get("key") == key:
            try:
                return choices_of(entry["choices"], f"tuned on {device_name} {entry['created_utc'][:10]}")
            except (KeyError, TypeError, ValueError) as exc:
                raise CmxError(f"tuning file {path} has a bad entry ({exc}); run 'cmx-bench tune --device "
                               f"{device_name}' again") from exc
    return None


def save_tuning(device_name: str, facts: dict, executorch: str | None, threads: int, choices: LoweringChoices,
                trials: list[dict], complete: bool = True) -> Path:
    """Keep a tuning: it replaces the entry of the same key, others stay; written atomically. An incomplete one
    (the tuning stopped part way) holds the knobs it measured, and the target's defaults for the rest."""
    path = tuning_path(device_name)
    document = _read(path) if path.is_file() else {"tuning_version": TUNING_VERSION, "device": device_name,
                                                    "entries": []}
    key = entry_key(facts, executorch, threads)
    entry = {"key": key, "choices": {"fp32": list(choices.fp32), "int8": list(choices.int8)},
             "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "complete": complete,
             "trials": trials}
    document["entries"] = [e for e in document["entries"] if e.get("key") != key] + [entry]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(path, document)
