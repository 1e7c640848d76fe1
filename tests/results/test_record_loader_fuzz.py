"""Property tests: the record loader, on generated JSON, truncated real records and hostile mutations of valid ones,
loads a record whose figures can be read, or raises RecordError with one line."""

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmx_bench.errors import RecordError
from cmx_bench.results.metrics import record_figures
from cmx_bench.results.store import load_record_file
from tests.records import make_record
from tests.results.hostile import put, scored_block

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                    max_leaves=25)
REAL = json.dumps(make_record(n=5))
KEYS = sorted(make_record(n=5))


def _loads_or_record_error(path):
    try:
        load_record_file(path)
    except RecordError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=80, deadline=None)
@given(document=JSON)
def test_generated_json(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("records") / "r.json"
    path.write_text(json.dumps(document))
    _loads_or_record_error(path)


@settings(max_examples=80, deadline=None)
@given(cut=st.integers(0, len(REAL)), drop=st.sampled_from(KEYS), value=JSON, version=st.integers(-3, 5) | st.text(max_size=3))
def test_real_records_cut_short_or_altered(tmp_path_factory, cut, drop, value, version):
    folder = tmp_path_factory.mktemp("records")
    (folder / "cut.json").write_text(REAL[:cut])
    _loads_or_record_error(folder / "cut.json")
    altered = json.loads(REAL)
    altered[drop] = value
    altered["schema_version"] = version
    (folder / "altered.json").write_text(json.dumps(altered))
    _loads_or_record_error(folder / "altered.json")


# Hostile mutations of a valid record (issue #26): whatever loads can be read, figure by figure, without a type
# check at each use; whatever cannot is one RecordError line.

SCORED = make_record(n=5, accuracy=scored_block(images=6),
                     paper={"cpu_pct": 28.8, "memory_mb": 70.1, "energy": "Medium", "source": "paper Table 5"})
SCORED_TEXT = json.dumps(SCORED)
# Every path the figure readers (results/metrics.py), compare and the report read.
FIGURE_PATHS = [
    "latency/samples_ms", "latency/samples_ms/0", "latency/stats", "latency/stats/median_ms",
    "latency/stats/median_ci95_ms", "latency/stats/median_ci95_ms/1", "latency/stats/p90_ms", "latency/stats/cv",
    "latency/stats/robust_cv", "latency/stats/unstable", "runner/load_ms", "runner/runtime", "runner/runtime/threads",
    "runner/phases/end", "artifact/size_bytes", "cpu", "cpu/cpu_device_pct", "cpu/cpu_core_pct", "cpu/cpu_seconds",
    "config/threads", "config/device", "config/model", "config/format", "config/label", "memory/uss_delta_mb",
    "memory/pss_delta_mb", "memory/pss_peak_mb", "memory/rss_peak_mb", "energy/energy_per_inference_mj",
    "energy/method", "energy/energy_class", "accuracy", "accuracy/accuracy", "accuracy/ci95/accuracy",
    "accuracy/ci95/accuracy/0", "accuracy/auroc/covid_vs_rest", "accuracy/parity/argmax_agreement",
    "accuracy/labels/0", "accuracy/outputs/0/1", "timeseries/t", "timeseries/t/0", "timeseries/rss_mb/1",
    "paper_reference", "paper_reference/cpu_pct",
]


def _number_paths(node, parts=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _number_paths(value, (*parts, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _number_paths(value, (*parts, str(index)))
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and parts != ("schema_version",):
        yield "/".join(parts)


NUMBER_PATHS = list(_number_paths(SCORED))


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _figures_are_readable(record: dict) -> None:
    figures = record_figures(record)
    assert all(map(_finite_number, figures.latency_samples_ms))
    for name in ("latency_median_ci95_ms", "accuracy_ci95"):
        pair = getattr(figures, name)
        assert pair is None or (len(pair) == 2 and all(map(_finite_number, pair))), (name, pair)
    for name in ("latency_median_ms", "latency_p90_ms", "latency_cv", "latency_robust_cv", "load_ms",
                 "artifact_size_mb", "cpu_device_pct", "cpu_core_pct", "cpu_ms_per_inference", "memory_model_mb",
                 "memory_pss_peak_mb", "memory_rss_peak_mb", "energy_per_inference_mj", "accuracy",
                 "auroc_covid_vs_rest", "parity_argmax_agreement"):
        value = getattr(figures, name)
        assert value is None or _finite_number(value), (name, value)
    assert figures.latency_unstable is None or isinstance(figures.latency_unstable, bool)
    assert isinstance(figures.threads_in_force, (int, str)) and not isinstance(figures.threads_in_force, bool)
    assert all(v is None or isinstance(v, str) for v in (figures.energy_method, figures.energy_class))
    assert all(isinstance(record["config"][key], str) for key in ("device", "model", "format"))


def _loads_readable_or_record_error(path):
    try:
        record = load_record_file(path)
    except RecordError as exc:
        assert "\n" not in str(exc)
        return None
    _figures_are_readable(record)
    return record


@settings(max_examples=120, deadline=None)
@given(path=st.sampled_from(FIGURE_PATHS), value=JSON)
def test_any_value_at_a_figure_path(tmp_path_factory, path, value):
    record = put(json.loads(SCORED_TEXT), path, value)
    file = tmp_path_factory.mktemp("records") / "r.json"
    file.write_text(json.dumps(record))
    _loads_readable_or_record_error(file)


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(NUMBER_PATHS), literal=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]))
def test_non_finite_json_text_anywhere_is_refused_naming_the_field(tmp_path_factory, path, literal):
    marker = "__NON_FINITE__"
    record = put(json.loads(SCORED_TEXT), path, marker)
    file = tmp_path_factory.mktemp("records") / "r.json"
    file.write_text(json.dumps(record).replace(f'"{marker}"', literal))
    try:
        load_record_file(file)
    except RecordError as exc:
        assert "\n" not in str(exc) and f": {path} is " in str(exc), str(exc)
    else:
        raise AssertionError(f"{literal} at {path} was accepted")


def _dict_paths(node, parts=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield "/".join((*parts, key))
            yield from _dict_paths(value, (*parts, key))
    elif isinstance(node, list) and node:
        yield from _dict_paths(node[0], (*parts, "0"))


def _remove(record: dict, path: str) -> dict:
    *parents, last = [int(p) if re.fullmatch(r"\d+", p) else p for p in path.split("/")]
    node = record
    for part in parents:
        node = node[part]
    del node[last]
    return record


@settings(max_examples=60, deadline=None)
@given(paths=st.lists(st.sampled_from(sorted(set(_dict_paths(SCORED)))), min_size=1, max_size=3, unique=True))
def test_fields_removed(tmp_path_factory, paths):
    record = json.loads(SCORED_TEXT)
    for path in paths:
        try:
            _remove(record, path)
        except (KeyError, IndexError, TypeError):
            pass  # a parent removed before it
    file = tmp_path_factory.mktemp("records") / "r.json"
    file.write_text(json.dumps(record))
    _loads_readable_or_record_error(file)


@settings(max_examples=12, deadline=None)
@given(size=st.integers(1, 50_000), bad_at=st.none() | st.floats(0, 1, exclude_max=True),
       bad=st.sampled_from(['"1"', "null", "NaN", "-Infinity", "[]", "-1", "true"]))
def test_huge_sample_lists(tmp_path_factory, size, bad_at, bad):
    record = json.loads(SCORED_TEXT)
    record["latency"]["samples_ms"] = [1.0] * size
    text = json.dumps(record)
    if bad_at is not None:
        samples = ["1.0"] * size
        samples[int(bad_at * size)] = bad
        text = text.replace(json.dumps(record["latency"]["samples_ms"]), "[" + ", ".join(samples) + "]")
    file = tmp_path_factory.mktemp("records") / "r.json"
    file.write_text(text)
    loaded = _loads_readable_or_record_error(file)
    assert (loaded is None) == (bad_at is not None)
    if loaded is None:
        with pytest.raises(RecordError, match=f"latency/samples_ms/{int(bad_at * size)}"):
            load_record_file(file)
