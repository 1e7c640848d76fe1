"""Where the project's data folders are: model cards, device profiles, the runner schema, caches, reports."""

from __future__ import annotations

import os
from pathlib import Path

from cmx_bench.errors import CmxError


def project_root() -> Path:
    """The checkout that holds models/ and device_profiles/ (CMX_BENCH_HOME overrides)."""
    env = os.environ.get("CMX_BENCH_HOME")
    root = Path(env) if env else Path(__file__).resolve().parents[1]
    if not (root / "models").is_dir() or not (root / "device_profiles").is_dir():
        raise CmxError(f"cannot find models/ and device_profiles/ under {root}; install with 'pip install -e .' "
                       "from the checkout or set CMX_BENCH_HOME")
    return root


def models_dir() -> Path:
    return project_root() / "models"


def device_profiles_dir() -> Path:
    return project_root() / "device_profiles"


def protocol_schema_path() -> Path:
    return project_root() / "android_runner" / "protocol" / "runner-protocol.schema.json"


def artifact_cache_dir() -> Path:
    env = os.environ.get("CMX_BENCH_CACHE")
    return Path(env) if env else models_dir() / ".cache"


def device_state_dir() -> Path:
    """Journals of device changes still to undo (a phone that vanished mid-run); CMX_BENCH_STATE overrides."""
    env = os.environ.get("CMX_BENCH_STATE")
    return Path(env) if env else artifact_cache_dir() / "device-state"
