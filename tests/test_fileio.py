"""Atomic writes: never overwrite a record, leave files with the mode the umask gives, and never replace what is
not a regular file (a device, a FIFO, a symlink's target is written instead)."""

import errno
import json
import os
import socket
import stat
import tempfile
import threading

import pytest

from cmx_bench.errors import OutputError
from cmx_bench.fileio import write_json_atomic, write_text_atomic
from cmx_bench.report.writers import write_report
from tests.records import make_record


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_report_files_are_readable_by_group_and_others_under_umask_022(tmp_path, umask_022):
    paths = write_report([make_record()], tmp_path)
    for path in [*paths.values(), *tmp_path.glob("*.png")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o644, (path.name, oct(mode))


def test_a_stricter_umask_is_honoured(tmp_path):
    old = os.umask(0o077)
    try:
        path = write_text_atomic(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_records_are_never_overwritten(tmp_path):
    write_text_atomic(tmp_path / "r.json", "first", overwrite=False)
    with pytest.raises(OutputError, match="never overwritten"):
        write_text_atomic(tmp_path / "r.json", "second", overwrite=False)
    assert (tmp_path / "r.json").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# Hostile targets (issue #26): what is already at the path decides how it is written, and nothing but a regular
# file is ever replaced. Device nodes are made in the test's own folder, never in the machine's /dev.

FULL, NULL = os.makedev(1, 7), os.makedev(1, 3)  # /dev/full and /dev/null's major/minor


def _device(path, number):
    if os.geteuid() != 0:
        pytest.skip("making a character device (mknod) needs root")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, number)
    except PermissionError as exc:  # root in a container without CAP_MKNOD
        pytest.skip(f"mknod refused here: {exc}")
    return path


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message, message
    return message


def _read_fifo_in_background(path):
    received = []
    reader = threading.Thread(target=lambda: received.append(path.read_bytes()), daemon=True)
    reader.start()
    return reader, received


def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "summary"
    os.mkfifo(fifo)
    reader, received = _read_fifo_in_background(fifo)
    write_text_atomic(fifo, "# summary\n")
    reader.join(timeout=10)
    assert received == [b"# summary\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary"]  # no temp file left beside it


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "report.md"
    target.write_text("old")
    link = tmp_path / "report.md"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    dangling = tmp_path / "later.md"
    dangling.symlink_to(tmp_path / "real" / "later.md")
    write_text_atomic(dangling, "made where the link points")
    assert dangling.is_symlink() and (tmp_path / "real" / "later.md").read_text() == "made where the link points"


def test_a_full_device_is_one_line_naming_it_and_stays_a_device(tmp_path):
    full = _device(tmp_path / "full", FULL)
    with pytest.raises(OutputError) as caught:
        write_text_atomic(full, "# summary\n")
    message = _one_line(caught)
    assert f"cannot write {full}: no space left on device" in message
    assert stat.S_ISCHR(os.lstat(full).st_mode) and os.lstat(full).st_rdev == FULL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_a_null_device_is_written_and_stays_a_device(tmp_path):
    null = _device(tmp_path / "null", NULL)
    write_json_atomic(null, {"benchmarks": []})
    assert stat.S_ISCHR(os.lstat(null).st_mode) and os.lstat(null).st_rdev == NULL


def test_a_socket_or_folder_is_refused_in_one_line(tmp_path):
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket path must fit in 108 bytes
        path = os.path.join(short, "s")
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(path)
            with pytest.raises(OutputError) as caught:
                write_text_atomic(path, "x")
            assert "is a socket" in _one_line(caught) and path in str(caught.value)
            assert stat.S_ISSOCK(os.lstat(path).st_mode)
        finally:
            server.close()
    with pytest.raises(OutputError) as caught:
        write_text_atomic(tmp_path, "x")
    assert "is a folder" in _one_line(caught)


def test_a_full_disk_names_the_path_and_the_free_space(tmp_path, monkeypatch):
    target = tmp_path / "reports" / "report.md"
    target.parent.mkdir()
    target.write_text("old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("cmx_bench.fileio.os.fsync", no_space)
    with pytest.raises(OutputError) as caught:
        write_text_atomic(target, "new")
    message = _one_line(caught)
    assert message.startswith(f"cannot write {target}: no space left on device (")
    assert " free there); free some space or choose another output location" in message
    assert target.read_text() == "old" and [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_a_symlink_loop_is_one_line(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OutputError) as caught:
        write_text_atomic(loop, "x")
    assert f"cannot write {loop}: too many levels of symbolic links" in _one_line(caught)


def test_records_are_never_written_over_a_link_or_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "link.json").symlink_to(tmp_path / "elsewhere.json")
    for name in ("fifo.json", "link.json"):
        with pytest.raises(OutputError, match="never overwritten"):
            write_text_atomic(tmp_path / name, "{}", overwrite=False)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo.json").st_mode) and (tmp_path / "link.json").is_symlink()
    assert not (tmp_path / "elsewhere.json").exists()


@pytest.mark.parametrize("value, shown", [(float("nan"), "NaN"), (float("inf"), "Infinity"),
                                          (float("-inf"), "-Infinity")])
def test_json_never_holds_nan_or_infinity(tmp_path, value, shown):
    with pytest.raises(OutputError) as caught:
        write_json_atomic(tmp_path / "r.json", {"latency": {"samples_ms": [1.0, 2.0, 3.0, value]}})
    message = _one_line(caught)
    assert f"cannot write {tmp_path / 'r.json'}: latency/samples_ms/3 is {shown}" in message
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(tmp_path / "ok.json", {"x": 1e308})
    assert json.loads((tmp_path / "ok.json").read_text()) == {"x": 1e308}


def test_dev_stdout_redirected_to_a_file_is_written_into_not_replaced(tmp_path):
    # `compare ... --markdown /dev/stdout > log.txt`: the log keeps what was printed before, then the markdown.
    import subprocess
    import sys

    log = tmp_path / "log.txt"
    code = ("import sys; print('before', flush=True); from cmx_bench.fileio import write_text_atomic; "
            "write_text_atomic('/dev/stdout', '# summary\\n'); print('after')")
    with open(log, "w") as handle:
        subprocess.run([sys.executable, "-c", code], stdout=handle, check=True)
    assert log.read_text() == "before\n# summary\nafter\n"
