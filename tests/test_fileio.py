"""Atomic writes: never overwrite a record, and leave files with the mode the umask gives."""

import os
import stat

import pytest

from cmx_bench.errors import OutputError
from cmx_bench.fileio import write_text_atomic
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
