"""Atomic, never-overwriting file writes and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from cmx_bench.errors import OutputError


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _temp_beside(path: Path) -> tuple[int, str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write to folder {path.parent}: {exc.strerror}; choose another output folder") from exc


def default_file_mode() -> int:
    """The mode open() would give a new file under the process umask (mkstemp's own 0600 is too private)."""
    return 0o666 & ~_process_umask()


def _process_umask() -> int:
    """The umask without changing it (Linux reports it in /proc); else the classic set-and-restore."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write to a temporary file beside `path`, then rename (or hard-link when overwriting is forbidden)."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        # Reports are shared with teams and published from CI: readable as the umask allows, not 0600.
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails when the target exists, so an existing record is never replaced.
            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise OutputError(f"{path} already exists and records are never overwritten") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_json_atomic(path: str | os.PathLike, obj, *, overwrite: bool = True) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", overwrite=overwrite)


def ensure_writable_folder(folder: str | os.PathLike, what: str = "report folder") -> Path:
    """Fail early, before any work, when `folder` cannot hold new files."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".cmx-write-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"{what} {folder} is not writable ({reason}); choose another with --out") from exc
    return folder
