"""Hostile output paths (issue #26), through the real CLI: compare's --markdown and --gab-json write into a FIFO,
a device or a symlink's target and never replace them; a write error is one line and exit 2 (its 1 means a
regression); `baseline save` never writes outside --root."""

import json
import os
import socket
import stat
import tempfile
import threading

import pytest

from cmx_bench.results.store import write_record
from tests.records import make_record

FULL, NULL = os.makedev(1, 7), os.makedev(1, 3)  # /dev/full and /dev/null's major/minor


@pytest.fixture
def runs(tmp_path):
    for side in ("base", "current"):
        write_record(tmp_path / side, make_record(n=50))
    return tmp_path / "base", tmp_path / "current"


def _device(path, number):
    """A character device in the test's own folder (never the machine's /dev): needs root."""
    if os.geteuid() != 0:
        pytest.skip("making a character device (mknod) needs root")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, number)
    except PermissionError as exc:
        pytest.skip(f"mknod refused here: {exc}")
    return path


def _one_error_line(stderr: str, *parts: str) -> None:
    line = stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error:"), stderr
    for part in parts:
        assert part in line, line


def test_markdown_into_a_fifo_is_read_there_and_the_fifo_stays(cli, tmp_path, runs):
    fifo = tmp_path / "step-summary"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    code, out, stderr = cli("compare", *runs, "--markdown", fifo)
    reader.join(timeout=30)
    assert code == 0 and "no regression" in out, stderr
    assert received and "latency_median_ms" in received[0], received
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_outputs_through_symlinks_land_at_their_targets_and_the_links_stay(cli, tmp_path, runs):
    (tmp_path / "shared").mkdir()
    markdown, gab = tmp_path / "summary.md", tmp_path / "bench.json"
    markdown.symlink_to(tmp_path / "shared" / "summary.md")
    (tmp_path / "shared" / "bench.json").write_text("[]")
    gab.symlink_to(tmp_path / "shared" / "bench.json")
    code, _, stderr = cli("compare", *runs, "--markdown", markdown, "--gab-json", gab)
    assert code == 0, stderr
    assert markdown.is_symlink() and gab.is_symlink()
    assert "latency_median_ms" in (tmp_path / "shared" / "summary.md").read_text()
    assert json.loads((tmp_path / "shared" / "bench.json").read_text())[0]["unit"]


def test_a_full_device_is_exit_2_one_line_and_stays_a_device(cli, tmp_path, runs):
    full, null = _device(tmp_path / "full", FULL), _device(tmp_path / "null", NULL)
    code, _, stderr = cli("compare", *runs, "--markdown", full, "--gab-json", null)
    assert code == 2, stderr
    _one_error_line(stderr, f"cannot write {full}: no space left on device")
    for path, number in ((full, FULL), (null, NULL)):
        assert stat.S_ISCHR(os.lstat(path).st_mode) and os.lstat(path).st_rdev == number


def test_gab_json_into_a_null_device_is_done_and_it_stays_a_device(cli, tmp_path, runs):
    null = _device(tmp_path / "null", NULL)
    code, out, stderr = cli("compare", *runs, "--markdown", null, "--gab-json", null)
    assert code == 0 and "no regression" in out, stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode) and os.lstat(null).st_rdev == NULL


def test_a_socket_or_folder_output_is_exit_2_one_line(cli, tmp_path, runs):
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket path must fit in 108 bytes
        path = os.path.join(short, "s")
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(path)
            code, _, stderr = cli("compare", *runs, "--markdown", path)
            assert code == 2, stderr
            _one_error_line(stderr, f"cannot write {path}: it is a socket")
            assert stat.S_ISSOCK(os.lstat(path).st_mode)
        finally:
            server.close()
    code, _, stderr = cli("compare", *runs, "--gab-json", tmp_path)
    assert code == 2, stderr
    _one_error_line(stderr, f"cannot write {tmp_path}: it is a folder")


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["..", "."])
def test_baseline_names_that_leave_the_root_are_refused_and_nothing_is_written(cli, tmp_path, runs, name):
    root = tmp_path / "area" / "baselines"  # not made yet: 'baselines/..' does not exist, so nothing stops a write
    root.parent.mkdir()
    code, _, stderr = cli("baseline", "save", name, runs[0], "--root", root)
    assert code == 1, stderr
    _one_error_line(stderr, f"baseline name '{name}' would leave {root}")
    assert _files_under(tmp_path / "area") == []


def test_a_baseline_symlinked_out_of_the_root_is_refused_and_nothing_is_written(cli, tmp_path, runs):
    root, outside = tmp_path / "baselines", tmp_path / "outside"
    root.mkdir()
    (root / "main").symlink_to(outside)  # dangling: save would create it, outside the root
    code, _, stderr = cli("baseline", "save", "main", runs[0], "--root", root)
    assert code == 1, stderr
    _one_error_line(stderr, "baseline name 'main' would leave")
    assert not outside.exists()


def test_a_plain_baseline_name_still_saves_and_shows(cli, tmp_path, runs):
    code, _, stderr = cli("baseline", "save", "main-pixel2", runs[0], "--root", tmp_path / "baselines")
    assert code == 0, stderr
    assert (tmp_path / "baselines" / "main-pixel2" / "baseline.json").is_file()
    code, out, stderr = cli("baseline", "show", "main-pixel2", "--root", tmp_path / "baselines")
    assert code == 0 and "main-pixel2" in out, stderr


def test_a_damaged_baseline_description_is_one_line(cli, tmp_path, runs):
    code, _, _ = cli("baseline", "save", "main", runs[0], "--root", tmp_path / "baselines")
    assert code == 0
    (tmp_path / "baselines" / "main" / "baseline.json").write_text('{"name": "main"')
    code, _, stderr = cli("baseline", "show", "main", "--root", tmp_path / "baselines")
    assert code == 1
    _one_error_line(stderr, "baseline.json cannot be read as JSON")


def test_a_baseline_save_that_fails_part_way_leaves_no_baseline(cli, tmp_path, runs, monkeypatch):
    # The description is written last: failing there (as a full disk would) must not leave the records behind.
    from cmx_bench.errors import OutputError
    from cmx_bench.results import baseline

    real = baseline.write_json_atomic

    def full_at_description(path, obj, **kwargs):
        if path.name == "baseline.json":
            raise OutputError(f"cannot write {path}: no space left on device (0 bytes free there); free some space")
        return real(path, obj, **kwargs)

    monkeypatch.setattr(baseline, "write_json_atomic", full_at_description)
    code, _, stderr = cli("baseline", "save", "main", runs[0], "--root", tmp_path / "baselines")
    assert code == 1
    _one_error_line(stderr, "no space left on device")
    assert list((tmp_path / "baselines").iterdir()) == []
