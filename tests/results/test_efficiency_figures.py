"""Efficiency figures: typed in the record schema, read once in metrics.py, shown in the Table 5 view and compared."""

import pandas as pd
import pytest

from cmx_bench.export.calibration import LITE_REASON, calibration_block, efficiency_block, unavailable
from cmx_bench.report.table5 import display_frame, table5_frame, terminal_frame
from cmx_bench.results.compare import compare_records
from cmx_bench.results.metrics import record_figures
from cmx_bench.results.record import record_errors
from cmx_bench.results.store import write_record
from cmx_bench.results.thresholds import load_thresholds
from tests.records import make_record

PEAK_MACS, PEAK_MS = 200_000_000, 4.0


def _with_efficiency(record: dict, macs: int) -> dict:
    peak = calibration_block({"sha256": "c" * 64, "complexity": {"macs": PEAK_MACS}}, [PEAK_MS] * 20, "fp32", 0)
    record["efficiency"] = efficiency_block(macs, record["latency"]["stats"]["median_ms"], peak)
    return record


def test_the_efficiency_figures_are_read_from_the_records_block():
    record = _with_efficiency(make_record(median=10.0), macs=100_000_000)
    figures, median_s = record_figures(record), record["latency"]["stats"]["median_ms"] / 1e3
    assert record_errors(record) == []
    # 100M MACs in the network's median against 200M MACs in 4 ms.
    assert figures.efficiency == pytest.approx((100e6 / median_s) / (PEAK_MACS / (PEAK_MS * 1e-3)))
    assert figures.latency_floor_ms == pytest.approx(100e6 / PEAK_MACS * PEAK_MS)
    assert figures.x_floor == pytest.approx(1 / figures.efficiency)
    assert figures.peak_macs_per_s == pytest.approx(PEAK_MACS / (PEAK_MS * 1e-3))
    lite = make_record(fmt="ptl")
    lite["efficiency"] = unavailable(LITE_REASON)
    assert record_errors(lite) == [] and record_figures(lite).efficiency is None
    assert record_figures(make_record()).x_floor is None  # a record made before efficiency was measured


def test_the_schema_refuses_an_efficiency_that_is_not_above_zero_or_a_block_without_its_reason():
    record = _with_efficiency(make_record(), macs=1_000_000)
    record["efficiency"]["efficiency"] = 0.0
    assert any("efficiency" in error for error in record_errors(record))
    record["efficiency"] = {"status": "unavailable"}
    assert any("reason" in error for error in record_errors(record))


def test_the_table5_view_shows_efficiency_and_x_floor_beside_latency_only_where_a_run_has_them():
    # 100M MACs in 10 ms (10 G/s) against a peak of 200M MACs in 4 ms (50 G/s): 20 %, 5 times the floor.
    records = [_with_efficiency(make_record(fmt="pte", median=10.0, noise=0.001), 100_000_000), make_record(fmt="ptl")]
    records[1]["efficiency"] = unavailable(LITE_REASON)
    shown = display_frame(table5_frame(records)).set_index("Format")
    columns = list(shown.columns)
    assert columns.index("Efficiency") == columns.index("Latency median (ms) [95% CI]") + 1
    assert columns.index("x floor") == columns.index("Efficiency") + 1
    assert shown.loc["pte", "Efficiency"] == "20 %" and pd.isna(shown.loc["ptl", "Efficiency"])
    terminal = terminal_frame(table5_frame(records)).set_index("Fmt")
    assert terminal.loc["pte", "Eff%"] == "20" and terminal.loc["pte", "x floor"] == pytest.approx(5.0, rel=1e-3)
    without = display_frame(table5_frame([make_record()]))
    assert "Efficiency" not in without.columns and "x floor" not in without.columns
    assert "Eff%" not in terminal_frame(table5_frame([make_record()])).columns


def test_compare_judges_efficiency_higher_is_better(cli, tmp_path):
    # Same latency; the current network does fewer MACs, so its efficiency falls by half: a regression.
    base = tmp_path / "base"
    current = tmp_path / "current"
    write_record(base, _with_efficiency(make_record(seed=1), 100_000_000))
    write_record(current, _with_efficiency(make_record(seed=1), 50_000_000))
    result = compare_records([_with_efficiency(make_record(seed=1), 100_000_000)],
                             [_with_efficiency(make_record(seed=1), 50_000_000)], load_thresholds())
    [row] = [row for row in result.rows if row.metric == "efficiency"]
    assert row.verdict == "worse" and row.regression and row.relative_change == pytest.approx(-0.5)
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    assert code == 1 and "efficiency" in out and "efficiency" in (tmp_path / "summary.md").read_text()
    better = compare_records([_with_efficiency(make_record(seed=1), 50_000_000)],
                             [_with_efficiency(make_record(seed=1), 100_000_000)], load_thresholds())
    assert {row.verdict for row in better.rows if row.metric == "efficiency"} == {"better"}
