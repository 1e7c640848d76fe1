"""Append-only store of run records: one folder per run, files written atomically and never overwritten."""

from __future__ import annotations

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


def load_record_file(path: Path) -> dict:
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
            files += sorted(p for p in location.rglob("*.json") if p.parent.name == "records")
        elif location.is_file():
            files.append(location)
        else:
            raise RecordError(f"records {location} do not exist; pass record files or run folders")
    if not files:
        raise RecordError(f"no run records under {', '.join(map(str, locations))}; run 'cmx-bench run' first")
    return files


def load_records(locations) -> list[dict]:
    return [load_record_file(path) for path in find_record_files(locations)]
