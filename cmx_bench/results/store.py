"""Append-only store of run records: one folder per run, files written atomically and never overwritten; a record
whose rounds are still being measured waits in the run's pending/ folder as a checkpoint."""

from __future__ import annotations

import contextlib
import glob
import json
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from cmx_bench.errors import RecordError
from cmx_bench.fileio import write_json_atomic
from cmx_bench.results.migrate import migrate
from cmx_bench.results.record import validate_record


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def record_filename(record: dict) -> str:
    config = record["config"]
    return f"{_slug(config['device'])}__{_slug(config['model'])}__{_slug(config['format'])}__{record['record_id']}.json"


def write_record(run_dir: Path, record: dict) -> Path:
    # A record the bench built wrong (a NaN latency, a figure of the wrong type) is its bug, not the user's.
    validate_record(record, f"record {record.get('record_id')}", remedy="this is a cmx-bench bug, please report it")
    return write_json_atomic(Path(run_dir) / "records" / record_filename(record), record, overwrite=False)


# A record measured in rounds (`run --rounds N`) is final only after its last round. Until then it is kept, after each
# round, as RUN/pending/<record file stem>.round-<k>.json, so that a run killed outright (SIGKILL, the OOM killer, a
# power cut) still leaves what it measured; the final record replaces the checkpoints.
PENDING = "pending"
_CHECKPOINT_NAME = re.compile(r"^(?P<stem>.+)\.round-(?P<round>\d+)\.json$")


def _checkpoints_of(run_dir: Path, record: dict) -> list[Path]:
    stem = Path(record_filename(record)).stem
    folder = Path(run_dir) / PENDING
    return [path for path in folder.glob(f"{glob.escape(stem)}.round-*.json")
            if (match := _CHECKPOINT_NAME.match(path.name)) and match["stem"] == stem] if folder.is_dir() else []


def write_checkpoint(run_dir: Path, record: dict, round_number: int) -> Path:
    """The record as measured up to `round_number`, as a new checkpoint file; the older ones of the same record
    are removed only once it is on disk."""
    validate_record(record, f"record {record.get('record_id')}", remedy="this is a cmx-bench bug, please report it")
    stem = Path(record_filename(record)).stem
    older = [path for path in _checkpoints_of(run_dir, record) if path.name != f"{stem}.round-{round_number}.json"]
    path = write_json_atomic(Path(run_dir) / PENDING / f"{stem}.round-{round_number}.json", record, overwrite=False)
    for path_before in older:
        path_before.unlink(missing_ok=True)
    return path


def drop_checkpoints(run_dir: Path, record: dict) -> None:
    """Remove a record's checkpoints once its final record is on disk (and pending/ once it is empty)."""
    for path in _checkpoints_of(run_dir, record):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: other records still wait there
        (Path(run_dir) / PENDING).rmdir()


def _unfinished_checkpoints(paths) -> list[Path]:
    """Of the JSON files `paths`, the latest checkpoint of each record that has no final record beside it."""
    latest: dict[tuple[Path, str], tuple[int, Path]] = {}
    for path in paths:
        match = _CHECKPOINT_NAME.match(path.name)
        if path.parent.name != PENDING or match is None:
            continue
        key = (path.parent.parent, match["stem"])
        if key not in latest or int(match["round"]) > latest[key][0]:
            latest[key] = (int(match["round"]), path)
    return sorted(path for (run_dir, stem), (_, path) in latest.items()
                  if not (run_dir / "records" / f"{stem}.json").exists())


def _still_there(path: Path) -> Path:
    """A checkpoint listed a moment ago may be gone when read, the run it belongs to having gone on: then its
    record's final file, or its newer checkpoint."""
    match = _CHECKPOINT_NAME.match(path.name)
    if path.exists() or match is None or path.parent.name != PENDING:
        return path
    final = path.parent.parent / "records" / f"{match['stem']}.json"
    newer = _unfinished_checkpoints(path.parent.glob("*.json"))
    return final if final.exists() else next(
        (p for p in newer if _CHECKPOINT_NAME.match(p.name)["stem"] == match["stem"]), path)


def load_record_file(path: Path) -> dict:
    path = _still_there(Path(path))
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: a document nested thousands deep
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise RecordError(f"record {path} cannot be read as JSON ({reason}); remove or replace it") from exc
    return validate_record(migrate(record, f"record {path}"), f"record {path}")


def find_record_files(locations) -> list[Path]:
    """Record files named directly or found (recursively) under folders."""
    files = []
    for location in map(Path, locations):
        if location.is_dir():
            found = list(location.rglob("*.json"))  # one walk of what may be a large reports folder
            files += sorted(p for p in found if p.parent.name == "records")
            files += _unfinished_checkpoints(found)
        elif location.is_file():
            files.append(location)
        else:
            raise RecordError(f"records {location} do not exist; pass record files or run folders")
    if not files:
        raise RecordError(f"no run records under {', '.join(map(str, locations))}; run 'cmx-bench run' first")
    return files


def load_records(locations) -> list[dict]:
    return [load_record_file(path) for path in find_record_files(locations)]
