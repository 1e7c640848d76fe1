"""The run record: one JSON document per (device, model, artifact) run, validated against record.schema.json."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import jsonschema

from cmx_bench.errors import RecordError
from cmx_bench.fileio import json_path_text, non_finite_number
from cmx_bench.results.environment import current_environment

SCHEMA_VERSION = 2  # 2: adds `environment`; see migrate.py for older versions


@lru_cache(maxsize=None)
def _validator():
    schema = json.loads((Path(__file__).with_name("record.schema.json")).read_text())
    return jsonschema.Draft202012Validator(schema)


def _per_image_problem(record: dict) -> str | None:
    """What JSON Schema cannot say of the per-image scores that compare pairs: one row of class probabilities per
    label, each as long as the class list (a ragged table breaks numpy), and labels that index a class."""
    scores = record.get("accuracy") or {}
    outputs, labels = scores.get("outputs"), scores.get("labels")
    classes = scores.get("classes") or record["model"].get("classes")
    if outputs is None or not isinstance(classes, list):
        return None
    if labels is not None and len(labels) != len(outputs):
        return f"accuracy/outputs: {len(outputs)} rows for {len(labels)} labels"
    row = next((i for i, probs in enumerate(outputs) if len(probs) != len(classes)), None)
    if row is not None:
        return f"accuracy/outputs/{row}: {len(outputs[row])} probabilities for {len(classes)} classes"
    label = next((i for i, label in enumerate(labels or []) if label >= len(classes)), None)
    return None if label is None else f"accuracy/labels/{label}: {labels[label]} is not one of {len(classes)} classes"


def _problems(record: dict):
    """Each problem of a record as one line naming its field: a NaN or an infinity first, since JSON Schema cannot
    see it (to the schema a NaN is a number, and it passes every bound); the per-image scores' shape last, once
    the schema has vouched for their types."""
    non_finite = non_finite_number(record)
    if non_finite:
        yield non_finite
    schema_errors = 0
    for error in _validator().iter_errors(record):
        schema_errors += 1
        yield f"{json_path_text(error.absolute_path)}: {' '.join(error.message.split())[:120]}"
    per_image = None if schema_errors else _per_image_problem(record)
    if per_image:
        yield per_image


def record_errors(record: dict) -> list[str]:
    return list(_problems(record))


def validate_record(record: dict, source: str = "record", remedy: str = "remove or replace it") -> dict:
    # The first problem only: a hostile record may hold a million bad samples, and one line names one of them.
    problem = next(_problems(record), None)
    if problem:
        raise RecordError(f"{source} is not a valid run record: {problem}; {remedy}")
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
