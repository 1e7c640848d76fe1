"""Atomic, never-overwriting file writes and content hashes."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import stat
import tempfile
from pathlib import Path

from cmx_bench.errors import OutputError

# What a path may already be, by the stat test that recognises it: a file is replaced, a character device or FIFO
# written into, anything else refused.
_KINDS = ((stat.S_ISREG, "file"), (stat.S_ISCHR, "character device"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISDIR, "folder"), (stat.S_ISSOCK, "socket"), (stat.S_ISBLK, "block device"))
WRITTEN_IN_PLACE = ("character device", "FIFO")  # /dev/null, a terminal, a CI step-summary pipe
STANDARD_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def human_size(size_bytes: float) -> str:
    """'512 bytes', '12 KB', '3.4 GB'."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size_bytes < 1024 or unit == "TB":
            break
        size_bytes /= 1024
    return f"{size_bytes:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def _free_space_near(path: Path) -> str:
    """' (12 KB free there)' for the filesystem of the nearest existing folder on the way to `path`."""
    folder = Path(os.path.abspath(path))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return f" ({human_size(shutil.disk_usage(folder).free)} free there)"
    except OSError:
        return ""


def _write_error(thing: str, exc: OSError, filesystem: Path | None) -> OutputError:
    """One line for a failed write; `filesystem` (a path on it) adds the free space to a full-disk error. A device
    (/dev/full) has no filesystem whose free space would say anything, so it is given none."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    reason = reason[:1].lower() + reason[1:]
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and filesystem is not None:
        return OutputError(f"cannot write {thing}: {reason}{_free_space_near(filesystem)}; "
                           "free some space or choose another output location")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputError(f"cannot write {thing}: {reason}; check its permissions or choose another output location")
    return OutputError(f"cannot write {thing}: {reason}; choose another output location")


def _existing_kind(path: Path) -> str | None:
    """What `path` (a symlink followed) is now: 'file', 'FIFO', ...; None where nothing is there yet."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # a new file (or a dangling link's target); a file on the way fails when its folder is made
    except OSError as exc:  # a symlink loop, a folder on the way that cannot be searched
        raise _write_error(str(path), exc, None) from exc
    return next((kind for is_kind, kind in _KINDS if is_kind(mode)), "special file")


def _temp_beside(target: Path) -> tuple[int, str]:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(f"to folder {target.parent}", exc, target.parent) from exc


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


def _link_new(tmp: str, target: Path, shown: Path) -> None:
    # link() fails when the target exists (a file, a link, a FIFO...), so nothing already there is ever replaced.
    try:
        os.link(tmp, target)
    except FileExistsError as exc:
        raise OutputError(f"{shown} already exists and records are never overwritten") from exc


def _write_by_rename(shown: Path, target: Path, data: bytes, *, overwrite: bool) -> None:
    """A temporary file beside `target`, synced, then renamed over it (or hard-linked when it must be new)."""
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            # Reports are shared with teams and published from CI: readable as the umask allows, not 0600.
            os.fchmod(handle.fileno(), default_file_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target, shown)
    except OSError as exc:
        raise _write_error(str(shown), exc, target) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_in_place(path: Path, data: bytes) -> None:
    """Write into a device or FIFO that is already there: it is never replaced, and its write errors are seen."""
    try:
        # No O_CREAT: a node that went away meanwhile is not silently turned into a file; no O_NOCTTY: a terminal
        # written to does not become the process's controlling terminal.
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise _write_error(str(path), exc, None) from exc


def _write_to_stream(path: Path, data: bytes) -> None:
    """`--markdown /dev/stdout`: into the process's own stream where it stands, whatever it is redirected to (a file
    that the link resolves to would otherwise be replaced, or opened anew and written over from its start)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    fd = STANDARD_STREAMS[str(path)]
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise _write_error(str(path), exc, None) from exc


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path`. A regular file (or a new path) gets a temporary file beside it, renamed over it, a
    symlink followed first so that the link stays a link; with `overwrite=False` it is hard-linked instead and
    anything already there is refused. A character device or FIFO is written into, never replaced; a folder,
    socket or block device is refused. Every failure is one OutputError line naming `path`."""
    path = Path(path)
    if not overwrite:
        _write_by_rename(path, path, data, overwrite=False)
        return path
    if str(path) in STANDARD_STREAMS:
        _write_to_stream(path, data)
        return path
    kind = _existing_kind(path)
    if kind in WRITTEN_IN_PLACE:
        _write_in_place(path, data)
    elif kind in (None, "file"):
        _write_by_rename(path, Path(os.path.realpath(path)), data, overwrite=True)
    else:
        raise OutputError(f"cannot write {path}: it is a {kind}, not a file, device or FIFO; choose a file path")
    return path


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def json_path_text(parts) -> str:
    """A document path as one printable line ('latency/samples_ms/3'): keys may hold newlines or be long."""
    text = "/".join("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(part)) for part in parts)
    return (text if len(text) <= 120 else text[:117] + "...") or "<root>"


def _float_name(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def non_finite_number(document) -> str | None:
    """The first number of a JSON-like document that JSON cannot hold or a float cannot represent, in document order,
    as 'latency/samples_ms/3 is NaN'; None when every number is finite. Iterative: a hostile file may nest deeply."""
    stack, seen = [((), document)], set()
    while stack:
        parts, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return f"{json_path_text(parts)} is {_float_name(value)}"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1.7976931348623157e308:
            return f"{json_path_text(parts)} is a number too large for a float"
        if isinstance(value, (dict, list, tuple)) and id(value) not in seen:
            seen.add(id(value))  # a cyclic structure (a bug json.dumps names itself) ends the walk instead of looping
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(reversed([((*parts, key), item) for key, item in items]))
    return None


def write_json_atomic(path: str | os.PathLike, obj, *, overwrite: bool = True) -> Path:
    try:
        # allow_nan=False: NaN and Infinity are not JSON; another reader (jq, a browser, CI) would refuse the file.
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as exc:
        problem = non_finite_number(obj) or str(exc)
        raise OutputError(f"cannot write {path}: {problem}, which JSON cannot hold; this is a cmx-bench bug, "
                          "please report it") from exc
    return write_text_atomic(path, text + "\n", overwrite=overwrite)


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
