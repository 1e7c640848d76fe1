import json
from pathlib import Path

import pytest

from cmx_bench.errors import OutputError, RecordError
from cmx_bench.results.record import SCHEMA_VERSION
from cmx_bench.results.store import drop_checkpoints, load_records, write_checkpoint, write_record
from tests.records import make_record


def test_records_are_written_once_and_read_back(tmp_path):
    record = make_record()
    path = write_record(tmp_path / "run", record)
    assert load_records([tmp_path]) == [record]
    with pytest.raises(OutputError, match="never overwritten"):
        write_record(tmp_path / "run", record)
    assert json.loads(path.read_text()) == record
    assert [p.name for p in (tmp_path / "run" / "records").iterdir()] == [path.name]  # no temp files left


def test_a_run_folder_reads_the_latest_checkpoint_of_a_record_that_never_became_final(tmp_path):
    run = tmp_path / "run"
    waiting, finished = make_record(), make_record()
    finished["record_id"] = "other"
    for round_number in (1, 2):
        waiting["latency"]["stats"]["count"] = round_number
        write_checkpoint(run, waiting, round_number)
    write_checkpoint(run, finished, 1)
    # each new checkpoint replaced the one before it, once it was on disk
    assert sorted(p.name.rsplit(".round-", 1)[1] for p in (run / "pending").iterdir()) == ["1.json", "2.json"]
    write_record(run, finished)
    loaded = load_records([tmp_path])
    # the final record, and the other one's latest checkpoint (not the first)
    assert [(r["record_id"], r["latency"]["stats"]["count"]) for r in loaded] == [
        ("other", finished["latency"]["stats"]["count"]), (waiting["record_id"], 2)]
    drop_checkpoints(run, finished)
    drop_checkpoints(run, waiting)
    assert not (run / "pending").exists()
    assert [r["record_id"] for r in load_records([tmp_path])] == ["other"]


def test_a_checkpoint_gone_between_listing_and_reading_is_read_from_where_its_run_put_it(tmp_path):
    from cmx_bench.results.store import find_record_files, load_record_file

    run, record = tmp_path / "run", make_record()
    write_checkpoint(run, record, 1)
    [listed] = find_record_files([tmp_path])
    record["latency"]["stats"]["count"] = 2
    write_checkpoint(run, record, 2)  # the run went on: round 1's file is gone
    assert load_record_file(listed)["latency"]["stats"]["count"] == 2
    record["latency"]["stats"]["count"] = 3
    write_record(run, record)  # and finished
    drop_checkpoints(run, record)
    assert load_record_file(listed)["latency"]["stats"]["count"] == 3


def test_invalid_record_is_refused_before_writing(tmp_path):
    record = make_record()
    del record["latency"]["stats"]
    with pytest.raises(RecordError, match="not a valid run record"):
        write_record(tmp_path, record)
    assert not (tmp_path / "records").exists() or not any((tmp_path / "records").iterdir())


def test_unreadable_record_names_the_file(tmp_path):
    bad = tmp_path / "records" / "x.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    with pytest.raises(RecordError, match="x.json cannot be read"):
        load_records([tmp_path])


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "records"


def test_schema_v1_fixture_still_loads():
    [record] = load_records([FIXTURES / "v1" / "local__squeezenet1_1__pte.json"])
    assert record["schema_version"] == SCHEMA_VERSION > 1
    assert record["migrated_from_schema"] == 1
    assert record["environment"]["packages"]["torch"].startswith("2.")
    assert len(record["latency"]["samples_ms"]) == 603


def test_newer_schema_is_refused(tmp_path):
    record = make_record()
    record["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError, match="newer than this cmx-bench reads.*upgrade"):
        load_records([path])
