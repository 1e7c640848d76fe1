"""Bring older run records up to the current schema, one version step at a time; refuse newer ones."""

from __future__ import annotations

import copy

from cmx_bench.errors import RecordError
from cmx_bench.results.record import SCHEMA_VERSION


def _v1_to_v2(record: dict) -> dict:
    # v2 added the software environment; v1 records knew only the artifact's library versions.
    versions = (record.get("artifact") or {}).get("versions") or {}
    record["environment"] = {"python": (record.get("device") or {}).get("python"), "platform": None,
                             "packages": versions, "cmx_bench_commit": None}
    return record


STEPS = {1: _v1_to_v2}  # from-version -> function that returns the next version


def migrate(record: dict, source: str = "record") -> dict:
    if not isinstance(record, dict):
        raise RecordError(f"{source} holds a JSON {type(record).__name__}, not a run record object; remove or replace it")
    version = record.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < min(STEPS, default=SCHEMA_VERSION):
        raise RecordError(f"{source} has no valid schema_version; it is not a cmx-bench run record")
    if version > SCHEMA_VERSION:
        raise RecordError(f"{source} has schema_version {version}, newer than this cmx-bench reads "
                          f"({SCHEMA_VERSION}); upgrade cmx-bench")
    if version == SCHEMA_VERSION:
        return record
    record = copy.deepcopy(record)
    original = version
    while version < SCHEMA_VERSION:
        try:
            record = STEPS[version](record)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise RecordError(f"{source} (schema {original}) lacks what migration needs ({type(exc).__name__}: "
                              f"{str(exc)[:80]}); it is damaged: remove or replace it") from exc
        version += 1
        record["schema_version"] = version
    record["migrated_from_schema"] = original
    return record
