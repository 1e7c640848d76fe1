"""The software environment that produced a record (package versions, Python, platform, checkout commit)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from cmx_bench.hostinfo import package_versions

PACKAGES = ("cmx-bench", "torch", "torchvision", "executorch", "numpy")


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def current_environment() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": package_versions(PACKAGES),
            "cmx_bench_commit": _git_commit()}
