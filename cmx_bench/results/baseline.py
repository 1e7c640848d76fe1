"""Named baselines: a frozen copy of run records plus the environment that made them, for CI to compare against."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from cmx_bench.errors import OutputError, RecordError
from cmx_bench.fileio import write_json_atomic
from cmx_bench.results.environment import current_environment
from cmx_bench.results.store import find_record_files, load_record_file, record_filename

DEFAULT_ROOT = Path("baselines")


def _directly_inside(folder: Path, root: Path) -> bool:
    try:
        return folder.resolve().parent == root.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False


def _outside_root(name: str, root: Path) -> RecordError:
    return RecordError(f"baseline name '{name}' would leave {root}; choose a plain name such as main-pixel2")


def baseline_dir(name: str, root: Path = DEFAULT_ROOT) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise RecordError(f"baseline name '{name}' may hold only letters, digits, '.', '_' and '-'")
    if name in (".", ".."):  # they pass the character check, and name root itself or its parent
        raise _outside_root(name, root)
    return Path(root) / name


def save_baseline(name: str, locations, root: Path = DEFAULT_ROOT) -> Path:
    """Copy the records into root/name/records and describe them in root/name/baseline.json; never overwrites."""
    folder = baseline_dir(name, root)
    # A symlink named like a baseline may point anywhere: what is written must land inside root. (Reading one
    # through a link, as `show` does, writes nothing, so a shared baseline linked in stays readable.)
    if not _directly_inside(folder, Path(root)):
        raise _outside_root(name, root)
    if folder.exists():
        raise RecordError(f"baseline '{name}' already exists in {folder}; choose another name or delete it first")
    records = [load_record_file(path) for path in find_record_files(locations)]
    unfinished = next((record for record in records if record.get("checkpoint")), None)
    if unfinished is not None:
        config = unfinished["config"]
        raise RecordError(f"record {config['model']} {config['format']} of run {unfinished['run_id']} is a checkpoint "
                          f"(round {unfinished['checkpoint']['round']} of {unfinished['checkpoint']['rounds']}) of a "
                          "run that did not finish; a baseline needs finished runs: run again, or leave that run out")
    staging = Path(root) / f".{name}.saving-{os.getpid()}"
    try:
        _write_baseline(staging, name, records)
        # One rename: a baseline is there whole or not at all, whatever stops the save (a full disk, SIGTERM).
        os.rename(staging, folder)
    except OSError as exc:
        raise OutputError(f"cannot save baseline '{name}' in {root} ({exc.strerror or exc}); choose another "
                          "--root") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_baseline(folder: Path, name: str, records: list[dict]) -> None:
    for record in records:
        write_json_atomic(folder / "records" / record_filename(record), record, overwrite=False)
    description = {
        "name": name, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "saved_with": current_environment(),
        "runs": [{"device": r["config"]["device"], "model": r["config"]["model"], "format": r["config"]["format"],
                  "record_id": r["record_id"], "created_utc": r["created_utc"], "environment": r.get("environment")}
                 for r in records],
    }
    write_json_atomic(folder / "baseline.json", description, overwrite=False)


def load_baseline(name: str, root: Path = DEFAULT_ROOT) -> tuple[dict, list[dict]]:
    folder = baseline_dir(name, root)
    if not (folder / "baseline.json").is_file():
        raise RecordError(f"no baseline '{name}' in {Path(root)}; save one with 'cmx-bench baseline save {name} RECORDS'")
    return _read_description(folder / "baseline.json"), [load_record_file(path) for path in find_record_files([folder])]


def _read_description(path: Path) -> dict:
    """baseline.json, with the fields `baseline show` prints checked: a hand-edited or damaged file is one line."""
    try:
        description = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise RecordError(f"{path} cannot be read as JSON ({' '.join(str(exc).split())[:120]}); "
                          "save the baseline again") from exc
    saved_with = description.get("saved_with") if isinstance(description, dict) else None
    if not (isinstance(saved_with, dict) and isinstance(saved_with.get("packages"), dict)
            and isinstance(description.get("created_utc"), str)):
        raise RecordError(f"{path} is not a baseline description (no created_utc or saved_with.packages); "
                          "save the baseline again")
    return description
