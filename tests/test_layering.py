"""Subpackages depend downwards only (README, Layout); report/ never imports torch or adb."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cmx_bench"
ORDER = ["cli", "bench", "results", "report", "devices", "measure", "runner", "export", "train", "evaluate", "data",
         "nets"]
# Pure record readers that any subpackage may import: standard library only (checked below), so importing one pulls
# nothing from above. report/ reads a record's figures through results/metrics.py, the one place that reads them.
RECORD_READERS = {"cmx_bench.results.metrics"}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_no_subpackage_imports_one_above_it():
    rank = {name: index for index, name in enumerate(ORDER)}
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2 or parts[0] not in rank:
            continue
        for module in _imports(path):
            other = module.split(".")[1] if module.startswith("cmx_bench.") else None
            if other in rank and rank[other] < rank[parts[0]] and module not in RECORD_READERS:
                upward.append(f"{path.relative_to(PACKAGE)} -> {module}")
    assert upward == []


def test_report_never_imports_torch_or_adb():
    for path in (PACKAGE / "report").rglob("*.py"):
        assert not [m for m in _imports(path) if m.split(".")[0] in ("torch", "adbutils", "executorch")], path


def test_record_readers_import_only_the_standard_library():
    for module in RECORD_READERS:
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        assert [m for m in _imports(path) if m.split(".")[0] not in sys.stdlib_module_names] == [], path
