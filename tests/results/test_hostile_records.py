"""Hostile records (issue #26): NaN, infinities and figures of the wrong type are refused at load and before
writing, in one line that names the file and the field; compare exits 2 on them, report 1."""

import json
from pathlib import Path

import numpy as np
import pytest

from cmx_bench.errors import OutputError, RecordError
from cmx_bench.fileio import write_json_atomic
from cmx_bench.results.record import record_errors, validate_record
from cmx_bench.results.store import load_record_file, load_records, write_record
from tests.records import make_record
from tests.results.hostile import put, scored_block

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "records"


def write_raw(folder: Path, record: dict, text_edit=None) -> Path:
    """A record file as written by anything but cmx-bench (json.dumps writes NaN and Infinity as such)."""
    path = folder / "records" / "local__squeezenet1_1__pte__hostile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record)
    path.write_text(text_edit(text) if text_edit else text)
    return path


HUGE = "__HUGE__"  # replaced by the text 1e999, which Python's json reads as inf without a word

# (field path, value set there, what the message says about it)
NON_FINITE = [
    ("latency/samples_ms/3", float("nan"), "latency/samples_ms/3 is NaN"),
    ("latency/samples_ms/0", float("inf"), "latency/samples_ms/0 is Infinity"),
    ("latency/stats/median_ms", float("-inf"), "latency/stats/median_ms is -Infinity"),
    ("energy/energy_per_inference_mj", HUGE, "energy/energy_per_inference_mj is Infinity"),
    ("accuracy/auroc/covid_vs_rest", float("nan"), "accuracy/auroc/covid_vs_rest is NaN"),
    ("thermal/before_c", float("nan"), "thermal/before_c is NaN"),  # not a figure: still not JSON
    ("latency/samples_ms/1", 10 ** 400, "latency/samples_ms/1 is a number too large for a float"),
]
WRONG_TYPES = [
    ("latency/stats/median_ms", "fast", "latency/stats/median_ms: 'fast' is not of type 'number'"),
    ("latency/stats/median_ci95_ms", "x", "latency/stats/median_ci95_ms: 'x' is not of type 'array'"),
    ("latency/stats/median_ci95_ms", [1.0], "latency/stats/median_ci95_ms: [1.0] is too short"),
    ("latency/samples_ms/2", "9.5", "latency/samples_ms/2: '9.5' is not of type 'number'"),
    ("latency/stats/unstable", "no", "latency/stats/unstable: 'no' is not of type 'boolean'"),
    ("runner/load_ms", {"ms": 1}, "runner/load_ms: {'ms': 1} is not of type 'number', 'null'"),
    ("runner/phases/end", "later", "runner/phases/end: 'later' is not of type 'number'"),
    ("cpu/cpu_seconds", "lots", "cpu/cpu_seconds: 'lots' is not of type 'number', 'null'"),
    ("memory/pss_peak_mb", [95.0], "memory/pss_peak_mb: [95.0] is not of type 'number', 'null'"),
    ("energy/energy_per_inference_mj", True, "energy/energy_per_inference_mj: True is not of type 'number', 'null'"),
    ("artifact/size_bytes", "5 MB", "artifact/size_bytes: '5 MB' is not of type 'integer', 'null'"),
    ("accuracy/accuracy", "0.9", "accuracy/accuracy: '0.9' is not of type 'number', 'null'"),
    ("accuracy/ci95/accuracy", [0.1, "x"], "accuracy/ci95/accuracy/1: 'x' is not of type 'number'"),
    ("accuracy/labels/0", "covid", "accuracy/labels/0: 'covid' is not of type 'integer'"),
    ("timeseries/t/0", "start", "timeseries/t/0: 'start' is not of type 'number', 'null'"),
    ("config/model", 3, "config/model: 3 is not of type 'string'"),
]
HOSTILE = NON_FINITE + WRONG_TYPES


def hostile_record(path: str, value) -> dict:
    return put(make_record(n=20, accuracy=scored_block()), path, value)


def huge_text(text: str) -> str:
    return text.replace(f'"{HUGE}"', "1e999")


@pytest.mark.parametrize("path, value, says", HOSTILE, ids=[f"{p}={v!r}"[:40] for p, v, _ in HOSTILE])
def test_hostile_field_is_refused_at_load_naming_file_and_field(tmp_path, path, value, says):
    file = write_raw(tmp_path, hostile_record(path, value), huge_text)
    with pytest.raises(RecordError) as caught:
        load_record_file(file)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"record {file} is not a valid run record: {says}"), message
    assert message.endswith("; remove or replace it")


@pytest.mark.parametrize("path, value, says", HOSTILE[:3] + WRONG_TYPES[:3])
def test_hostile_record_built_in_memory_is_never_written(tmp_path, path, value, says):
    with pytest.raises(RecordError, match="cmx-bench bug") as caught:
        write_record(tmp_path / "run", hostile_record(path, value))
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "run" / "records").exists() or not any((tmp_path / "run" / "records").iterdir())


def test_validation_sees_numpy_nan_too():
    record = make_record(n=5)
    record["latency"]["samples_ms"][4] = np.float64("nan")
    with pytest.raises(RecordError, match="latency/samples_ms/4 is NaN"):
        validate_record(record)


def test_a_v1_record_with_nan_is_refused_after_migration(tmp_path):
    record = json.loads((FIXTURES / "v1" / "local__squeezenet1_1__pte.json").read_text())
    record["latency"]["samples_ms"][7] = float("nan")
    with pytest.raises(RecordError, match="latency/samples_ms/7 is NaN"):
        load_record_file(write_raw(tmp_path, record))


def test_typed_schema_still_accepts_what_the_code_writes(tmp_path):
    """Records as the bench and the tests build them, with and without a scored data set, an error record, and
    the version-1 fixture, all still load."""
    error_record = make_record(n=5)
    error_record.update(status="error", errors=["runner: crashed"])
    error_record["latency"] = {"samples_ms": [], "stats": None}
    for index, record in enumerate([make_record(), make_record(accuracy=scored_block()), error_record]):
        assert record_errors(record) == [], record_errors(record)
        write_record(tmp_path / f"run{index}", record)
    assert len(load_records([tmp_path])) == 3
    assert load_record_file(FIXTURES / "v1" / "local__squeezenet1_1__pte.json")["migrated_from_schema"] == 1


def test_a_document_nested_too_deep_is_one_line(tmp_path):
    path = tmp_path / "records" / "deep.json"
    path.parent.mkdir()
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RecordError, match="deep.json cannot be read as JSON") as caught:
        load_record_file(path)
    assert "\n" not in str(caught.value)


def test_a_key_with_a_newline_stays_on_one_line(tmp_path):
    record = make_record(n=5)
    record["timeseries"]["rss\nmb"] = ["x"]
    with pytest.raises(RecordError) as caught:
        load_record_file(write_raw(tmp_path, record))
    assert "\n" not in str(caught.value) and "timeseries/rss\\nmb/0" in str(caught.value)


def test_nan_never_reaches_a_json_file_by_another_writer(tmp_path):
    with pytest.raises(OutputError, match="history.json: best/val_score is NaN, which JSON cannot hold"):
        write_json_atomic(tmp_path / "history.json", {"best": {"epoch": 3, "val_score": float("nan")}})
    assert list(tmp_path.iterdir()) == []


# Through the real CLI: compare says 2 (its 1 would read as a regression in CI), report says 1.

CLI_CASES = [NON_FINITE[0], NON_FINITE[1], NON_FINITE[3], WRONG_TYPES[0], WRONG_TYPES[1], WRONG_TYPES[3],
             WRONG_TYPES[6], WRONG_TYPES[12]]


@pytest.fixture
def base(tmp_path):
    write_record(tmp_path / "base", make_record(n=20, accuracy=scored_block()))
    return tmp_path / "base"


def _one_error_line(stderr: str, *parts: str) -> str:
    line = stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error:"), stderr
    for part in parts:
        assert part in line, line
    return line


@pytest.mark.parametrize("path, value, says", CLI_CASES, ids=[f"{p}={v!r}"[:40] for p, v, _ in CLI_CASES])
def test_compare_exits_2_and_report_1_on_a_hostile_record(cli, tmp_path, base, path, value, says):
    file = write_raw(tmp_path / "current", hostile_record(path, value), huge_text)
    code, _, stderr = cli("compare", base, tmp_path / "current", "--markdown", tmp_path / "summary.md")
    assert code == 2, stderr
    _one_error_line(stderr, str(file), says)
    assert not (tmp_path / "summary.md").exists()
    code, _, stderr = cli("report", base, tmp_path / "current", "--out", tmp_path / "combined")
    assert code == 1, stderr
    _one_error_line(stderr, str(file), says)
    assert not (tmp_path / "combined").exists()


@pytest.mark.parametrize("edit, says", [
    (lambda block: block["outputs"].__setitem__(2, [0.5]), "accuracy/outputs/2: 1 probabilities for 3 classes"),
    (lambda block: block["labels"].pop(), "accuracy/outputs: 30 rows for 29 labels"),
    (lambda block: block["labels"].__setitem__(4, 7), "accuracy/labels/4: 7 is not one of 3 classes"),
])
def test_per_image_scores_that_compare_cannot_pair_are_refused(cli, tmp_path, base, edit, says):
    record = make_record(n=20, accuracy=scored_block())
    edit(record["accuracy"])
    file = write_raw(tmp_path / "current", record)
    code, _, stderr = cli("compare", base, tmp_path / "current")
    assert code == 2, stderr
    _one_error_line(stderr, str(file), says)
