"""Operator profiles from ExecuTorch's ETDump: rows, categories, coverage; bad files are one-line ParseErrors."""

import json

import numpy as np
import pytest
import torch

from cmx_bench.errors import ParseError
from cmx_bench.export.targets import host_target
from cmx_bench.measure.operator_profile import (XNNPACK_ROUNDING_MS, OperatorRow, categorise, operator_profile,
                                                operator_rows)
from tests.report.test_html_in_browser import CHROMIUM, _console_messages

FAST = ["--iters", "10", "--warmup", "2", "--min-duration", "0.5", "--profile-iterations", "10"]


@pytest.mark.parametrize("name, delegated, category", [
    ("Convolution (NHWC, F32) DWConv #2", True, "depthwise convolution"),
    ("Convolution (NHWC, QC8) IGEMM #1", True, "convolution"),
    ("Fully Connected (NC, QS8, QC8W) GEMM #34", True, "GEMM (1x1 conv, fully connected)"),
    ("Convert (NC) #1", True, "quantize/dequantize"), ("Transpose (ND, X32) #4", True, "layout"),
    ("native_call_split_with_sizes_copy.out", False, "layout"), ("native_call_mean.out", False, "pooling"),
    ("Softmax (NC, F32) #1", True, "elementwise"), ("native_call_add.out", False, "portable ops"),
])
def test_categories(name, delegated, category):
    assert categorise(name, delegated) == category


def test_run_profile_on_local_gives_operator_rows_that_add_up_to_the_latency(cli, tmp_path):
    code, out, err = cli("profile", "--model", "shufflenet_v2_x1_0", "--format", "pte", "--out", tmp_path)
    assert code == 0, err
    [record_path] = list(tmp_path.glob("*/records/*.json"))
    record = json.loads(record_path.read_text())
    block = record["profile"]
    assert block["status"] == "ok" and block["iterations"] == 20 and len(block["operators"]) >= 10
    # Coverage is taken against unprofiled inferences run between the profiled ones (the runner reports one per
    # profiled inference); the timed median, seconds earlier, gives timed_coverage. The benchmark checks 0.85-1.15.
    total = sum(r["median_ms"] for r in block["operators"])
    assert block["coverage_basis"] == "reference" and block["reference_median_ms"] > 0
    assert block["coverage"] == pytest.approx(total / block["reference_median_ms"])
    assert block["timed_coverage"] == pytest.approx(total / block["measured_median_ms"])
    assert block["measured_median_ms"] == record["latency"]["stats"]["median_ms"]
    assert block["execute_coverage"] == pytest.approx(total / block["profiled_execute_median_ms"])
    assert -0.5 < block["profiling_overhead"] < 1.0  # profiled over unprofiled calls; the benchmark prints it
    assert sum(r["share"] for r in block["operators"]) == pytest.approx(block["coverage"])
    assert 0.6 < block["coverage"] < 1.6, block["coverage"]  # a loose sanity bound: a shared machine is noisy
    assert sum(block["categories"].values()) == pytest.approx(sum(r["median_ms"] for r in block["operators"]))
    assert {"delegated", "backend", "occurrences", "median_ms", "p90_ms", "share", "category"} <= set(block["operators"][0])
    # The default (cmx) lowering delegates the whole network: one partition, no portable operator (the stock
    # lowering leaves ShuffleNetV2's splits and mean to portable kernels: tests/export/test_passes.py).
    assert record["artifact"]["lowering"]["name"] == "cmx" and record["artifact"]["lowering"]["partitions"] == 1
    assert record["artifact"]["lowering"]["target"] == host_target()  # the local device is the host
    assert not [r["name"] for r in block["operators"] if r["backend"] == "portable"]
    assert {r["partition"] for r in block["operators"] if r["delegated"]} == {0}
    assert all(r["occurrences"] == 20 for r in block["operators"])
    # Through the ETRecord written at export: every delegated row names a module of the network.
    delegated = [r for r in block["operators"] if r["delegated"]]
    assert block["modules"]["status"] == "mapped" and block["modules"]["unmapped"] == 0
    assert all(r["module"] for r in delegated)
    # Only XNNPACK's own layout operators (NCHW/NHWC transposes, reshapes) lack a node of their own.
    assert all(r["module_match"] == "operator" for r in delegated if r["category"] != "layout"), \
        [(r["name"], r["module"]) for r in delegated if r["module_match"] != "operator"][:5]
    assert block["modules"]["matched"] + block["modules"]["inserted"] == len(delegated)
    names = {r["module"] for r in delegated}
    assert {"conv1.0", "stage2.0.branch1.0", "stage4.2.branch2.5", "fc"} <= names, sorted(names)[:20]
    # The timed figures come from the timed runs only: profiling starts after the runner's 'end'.
    phases = record["runner"]["phases"]
    assert phases["profile_end"] > phases["end"] >= phases["measure_end"]
    assert block["artifact"]["planned_activation_bytes"] > 0 and block["artifact"]["constant_bytes"] > 4e6
    assert block["network"]["params"] > 1e6 and block["network"]["paper_macs"] == "140M"
    assert "Top operators: shufflenet_v2_x1_0 pte @ local" in out and "Report:" in out
    report = next(tmp_path.glob("*/report.md")).read_text()
    assert "## Where the time goes" in report and "where_the_time_goes.png" in report
    if CHROMIUM:  # .ci/run installs it
        page = next(tmp_path.glob("*/report.html"))
        assert _console_messages(page, tmp_path / "profile.png", tmp_path) == []
        assert (tmp_path / "profile.png").stat().st_size > 20_000


def test_operator_rows_give_the_record_keys_of_before():
    row = OperatorRow(name="Transpose (ND, X32) #4", backend="XnnpackBackend", delegated=True, partition=0,
                      category="layout", occurrences=20, median_ms=0.05, p90_ms=0.06)
    keys = ["name", "backend", "delegated", "partition", "category", "occurrences", "median_ms", "p90_ms", "module"]
    assert list(row.as_dict()) == keys + ["share"]  # a row no ETRecord mapped has no module_match
    row.module, row.module_match, row.share = "stage2.0", "inserted", 0.01
    assert row.as_dict() == dict(zip(keys, ["Transpose (ND, X32) #4", "XnnpackBackend", True, 0, "layout", 20, 0.05,
                                            0.06, "stage2.0"]), module_match="inserted", share=0.01)


def _events(*events):
    """An Inspector data frame of (name, delegated, per-inference ms) events in the Execute block."""
    import pandas as pd

    return pd.DataFrame([{"event_block_name": "Execute", "event_name": name, "is_delegated_op": delegated,
                          "delegate_backend_name": "XnnpackBackend" if delegated else None, "raw": times,
                          "p50_ms": float(np.median(times)) if times else 0.0,
                          "p90_ms": float(np.percentile(times, 90)) if times else 0.0}
                         for name, delegated, times in events])


def test_a_calls_time_beyond_its_operators_is_taken_per_inference_and_xnnpack_rounding_is_told_apart():
    # Each operator has one slow inference, a different one: the medians' difference would call 0.5 ms overhead.
    rows = operator_rows(_events(("Convolution #1", True, [0.6, 1.1, 0.6]), ("Slice #1", True, [0.4, 0.4, 0.9]),
                                 ("DELEGATE_CALL", False, [1.01, 1.51, 1.51])))
    assert [row.category for row in rows] == ["convolution", "layout", "timer rounding", "runtime overhead"]
    rounding, overhead = rows[2:]
    assert rounding.median_ms == pytest.approx(2 * XNNPACK_ROUNDING_MS) and rounding.partition == 0
    assert overhead.median_ms == pytest.approx(0.01 - 2 * XNNPACK_ROUNDING_MS) and overhead.occurrences == 3
    # Less beyond the operators than the estimate: all of it is rounding, no overhead.
    rows = operator_rows(_events(("Convolution #1", True, [0.6, 0.6, 0.6]), ("DELEGATE_CALL", False, [0.6002] * 3)))
    assert [(row.category, round(row.median_ms, 6)) for row in rows[1:]] == \
        [("timer rounding", 0.0002), ("runtime overhead", 0.0)]
    # An operator that ran in some inferences only: the call's times less its operators' medians.
    rows = operator_rows(_events(("Convolution #1", True, [0.6, 0.6]), ("DELEGATE_CALL", False, [0.61, 0.61, 0.61])))
    assert [round(row.median_ms, 6) for row in rows[1:]] == [0.0005, 0.0095]
    # A call no inference recorded gives no row (no NaN reaches the record).
    assert operator_rows(_events(("DELEGATE_CALL", False, []))) == []
    # A portable operator's call holds no XNNPACK operator: nothing to round, all overhead.
    rows = operator_rows(_events(("native_call_add.out", False, [0.1, 0.1]), ("OPERATOR_CALL", False, [0.12, 0.12])))
    assert [(row.name, round(row.median_ms, 6)) for row in rows[1:]] == [("operator call overhead", 0.02)]


def test_a_ptl_profile_is_unavailable_with_the_reason_and_the_record_is_complete(cli, tmp_path):
    code, _, err = cli("run", "--model", "squeezenet1_1", "--format", "ptl", "--profile", *FAST, "--out", tmp_path)
    assert code == 0, err
    [record_path] = list(tmp_path.glob("*/records/*.json"))
    record = json.loads(record_path.read_text())
    assert record["profile"]["status"] == "unavailable" and "PyTorch Lite" in record["profile"]["reason"]
    assert record["status"] == "ok" and record["latency"]["stats"] and record["memory"]["pss_peak_mb"]


def test_a_corrupt_etdump_is_a_one_line_parse_error(tmp_path):
    broken = tmp_path / "broken.etdump"
    broken.write_bytes(b"\x00\x01not an etdump" * 10)
    with pytest.raises(ParseError) as caught:
        operator_profile(broken, 5.0, 10)
    assert "\n" not in str(caught.value) and "cannot be read" in str(caught.value)


def test_an_artifact_without_its_etrecord_still_profiles_and_says_so(cli, tmp_path):
    code, _, err = cli("export", "--model", "squeezenet1_1", "--format", "pte", "--out", tmp_path / "art")
    assert code == 0, err
    [artifact] = list((tmp_path / "art").glob("*.pte"))
    etrecord = artifact.with_name(artifact.name + ".etrecord")
    assert json.loads(artifact.with_name(artifact.name + ".manifest.json").read_text())["etrecord"] == etrecord.name
    etrecord.unlink()
    code, _, err = cli("run", "--artifact", artifact, "--profile", *FAST, "--out", tmp_path / "reports")
    assert code == 0, err
    [record_path] = list((tmp_path / "reports").glob("*/records/*.json"))
    block = json.loads(record_path.read_text())["profile"]
    assert block["status"] == "ok" and len(block["operators"]) >= 10
    assert block["modules"]["status"] == "unavailable" and "no ETRecord" in block["modules"]["reason"]
    assert all(r["module"] is None for r in block["operators"])


def test_coverage_uses_the_interleaved_reference_and_falls_back_to_the_timed_median(cli, tmp_path):
    from executorch.extension.pybindings import portable_lib

    code, _, err = cli("export", "--model", "squeezenet1_1", "--format", "pte", "--out", tmp_path)
    assert code == 0, err
    [artifact] = list(tmp_path.glob("*.pte"))
    module = portable_lib._load_for_executorch(str(artifact), enable_etdump=True)
    for _ in range(3):
        module.forward([torch.rand(1, 3, 224, 224)])
    etdump = tmp_path / "profile.etdump"
    module.write_etdump_result_to_file(str(etdump))

    older_runner = operator_profile(etdump, 50.0, 3)  # a runner that sends no reference latencies
    total = sum(r["median_ms"] for r in older_runner["operators"])
    assert older_runner["coverage_basis"] == "timed" and older_runner["reference_median_ms"] is None
    assert older_runner["coverage"] == pytest.approx(total / 50.0) == pytest.approx(older_runner["timed_coverage"])
    assert older_runner["profiling_overhead"] is None

    block = operator_profile(etdump, 50.0, 3, reference_latencies_ms=[40.0, 10.0, 20.0],
                             profiled_latencies_ms=[21.0, 22.0, 99.0])
    assert block["coverage_basis"] == "reference" and block["reference_median_ms"] == 20.0
    assert block["profiling_overhead"] == pytest.approx(22.0 / 20.0 - 1)
    assert block["coverage"] == pytest.approx(total / 20.0)
    assert block["timed_coverage"] == pytest.approx(total / 50.0)
    assert block["operators"][0]["share"] == pytest.approx(block["operators"][0]["median_ms"] / 20.0)
