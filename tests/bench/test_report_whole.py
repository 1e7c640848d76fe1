"""A run's report is written whole or not at all: a write that fails half-way leaves none of its files."""

import pytest

from cmx_bench.errors import OutputError
from cmx_bench.fileio import write_bytes_atomic
from cmx_bench.report import writers
from cmx_bench.results.store import write_record
from tests.records import make_record


def _disk_full_after(monkeypatch, writes: int) -> None:
    done = []

    def write(path, data, **kwargs):
        if len(done) == writes:
            raise OutputError(f"cannot write {path}: no space left on device (0 KB free)")
        done.append(path)
        return write_bytes_atomic(path, data, **kwargs)

    monkeypatch.setattr(writers, "write_bytes_atomic", write)


@pytest.mark.parametrize("writes", [0, 1, 3])
def test_a_failed_write_leaves_no_report_file_beside_the_records(monkeypatch, tmp_path, writes):
    records = [make_record(), make_record(fmt="pte-int8", seed=1)]
    for record in records:
        write_record(tmp_path / "run", record)
    _disk_full_after(monkeypatch, writes)
    with pytest.raises(OutputError):
        writers.write_report(records, tmp_path / "run")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["records"]


def test_a_failed_report_into_a_new_folder_leaves_no_folder(monkeypatch, tmp_path):
    _disk_full_after(monkeypatch, 2)
    with pytest.raises(OutputError):
        writers.write_report([make_record()], tmp_path / "combined")
    assert not (tmp_path / "combined").exists()


def test_a_whole_report_has_every_file_and_no_temporary_one(tmp_path):
    paths = writers.write_report([make_record()], tmp_path / "report")
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"table5.csv", "report.md", "report.html"} <= names and not [n for n in names if n.startswith(".")]
    assert all(path.is_file() for path in paths.values())
