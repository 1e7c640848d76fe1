"""Property tests: the record loader, on generated JSON and truncated real records, loads or raises RecordError."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cmx_bench.errors import RecordError
from cmx_bench.results.store import load_record_file
from tests.records import make_record

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
