"""The run record: one JSON document per (device, model, artifact) run, validated against record.schema.json."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import jsonschema

from cmx_bench.errors import RecordError
from cmx_bench.results.environment import current_environment

SCHEMA_VERSION = 2  # 2: adds `environment`; see migrate.py for older versions


@lru_cache(maxsize=None)
def _validator():
    schema = json.loads((Path(__file__).with_name("record.schema.json")).read_text())
    return jsonschema.Draft202012Validator(schema)


def record_errors(record: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {' '.join(e.message.split())[:120]}"
            for e in _validator().iter_errors(record)]


def validate_record(record: dict, source: str = "record") -> dict:
    errors = record_errors(record)
    if errors:
        raise RecordError(f"{source} is not a valid run record: {errors[0]}")
    return record


def new_record(run_id: str) -> dict:
    """A record skeleton; the bench fills it in as the run proceeds."""
    return {
        "schema_version": SCHEMA_VERSION, "record_id": uuid.uuid4().hex[:12], "run_id": run_id,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "status": "ok", "errors": [],
        "config": {}, "device": {}, "model": {}, "artifact": {}, "runner": {},
        "latency": {"samples_ms": [], "stats": None}, "timeseries": {}, "sampler": {}, "cpu": {}, "memory": {},
        "energy": {}, "thermal": {}, "accuracy": None, "paper_reference": None, "environment": current_environment(),
    }
