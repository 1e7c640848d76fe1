"""A journal of what a run changed on a phone, undone on every exit path, or at the next contact if the phone vanished."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cmx_bench import paths
from cmx_bench.fileio import write_json_atomic


def _journal(serial: str) -> Path:
    return paths.device_state_dir() / f"restore-{re.sub(r'[^A-Za-z0-9_.-]', '_', serial)}.json"


def remember(serial: str, undo: list[list[str]]) -> None:
    """Write the undo commands before changing anything, so that a crash or a pulled cable cannot lose them."""
    path = _journal(serial)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"serial": serial, "undo": undo})


def pending(serial: str) -> list[list[str]]:
    try:
        return json.loads(_journal(serial).read_text())["undo"]
    except (OSError, ValueError, KeyError):
        return []


def restore(link) -> list[list[str]]:
    """Run the journal's undo commands on the phone, then forget them; returns what was run."""
    undo = pending(link.serial)
    for words in undo:
        link.shell(words, check=False)
    _journal(link.serial).unlink(missing_ok=True)
    return undo
