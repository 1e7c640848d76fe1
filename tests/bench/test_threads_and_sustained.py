"""Thread counts as runs of their own, cold and warm loads, and a sustained run, on the local device via the CLI."""

import json

import pytest

from cmx_bench.results.record import record_errors

FAST = ["--warmup", "1", "--min-duration", "0.3", "--iters", "10"]


def _records(out):
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/records/*.json"))]


def test_each_thread_count_is_its_own_record_with_cold_and_warm_loads(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, stdout, stderr = cli("run", "--model", "squeezenet1_1", "--format", "pte", "--threads", "1",
                               "--threads", "2", *FAST, "--out", tmp_path)
    assert code == 0, stderr
    records = _records(tmp_path)
    assert sorted((r["config"]["threads"], r["runner"]["runtime"]["threads_requested"],
                   r["runner"]["runtime"]["threads"]) for r in records) == [(1, 1, 1), (2, 2, 2)]
    for record in records:
        assert record_errors(record) == []
        assert record["runner"]["load_ms"] > 0 and record["runner"]["warm_load_ms"] > 0
        assert record["runner"]["warm_first_inference_ms"] > 0
        assert record["runner"]["phases"]["end"] <= record["runner"]["phases"]["warm_load_start"]
        # Where it ran: every cluster's share of the runner's CPU time, summing to 1, and the threads that worked;
        # the clocks measured, or the reason they could not be (this VM has no cpufreq policy).
        placement = record["placement"]
        assert placement["status"] == "ok" and placement["threads_worked"] >= 1
        assert sum(cluster["cpu_share"] for cluster in placement["clusters"]) == pytest.approx(1, abs=0.01)
        assert placement["clock_fraction"] is not None or placement["clock_reason"]
    table = stdout[stdout.index("Table 5 view"):stdout.index("Weights:")]
    assert "Thr" in table and "Warm" in table and "Load" in table  # headers wrap over two lines
    rows = [line for line in table.splitlines() if "squeezenet1_1" in line]
    assert len(rows) == 2 and {row.split("│")[3].strip() for row in rows} == {"1", "2"}
    report = next(tmp_path.glob("*/report.md")).read_text()
    assert "Warm load (ms)" in report and "Threads" in report


def test_a_sustained_minute_keeps_a_point_per_second_and_draws_it(cli, tmp_path):
    code, _, stderr = cli("run", "--model", "squeezenet1_1", "--format", "pte", "--sustained", "60",
                          "--warmup", "1", "--out", tmp_path)
    assert code == 0, stderr
    [record] = _records(tmp_path)
    assert record_errors(record) == []
    block = record["sustained"]
    assert block["requested_s"] == 60 and block["window_s"] >= 60
    assert len(block["latency_per_second"]["t_s"]) >= 50
    assert block["slowdown"] > 0 and len(block["readings"]["t_s"]) >= 20  # a reading every 2 s
    # This host reports no thermal status: the record says throttling cannot be told, rather than "none".
    assert block["throttling_began_s"] is None and block["throttling"]
    run_dir = next(tmp_path.iterdir())
    assert (run_dir / "sustained_runs.png").stat().st_size > 10_000
    report = (run_dir / "report.md").read_text()
    assert "![Sustained runs](sustained_runs.png)" in report and "steady-state slowdown" in report


def test_an_older_runners_result_says_the_warm_load_is_missing():
    from cmx_bench.bench.session import runner_block

    older = {"runner": {"name": "cmx-bench-android", "version": "0.6.0"}, "phases": {}, "load_ms": 40.0,
             "first_inference_ms": 9.0, "runtime": {"name": "executorch", "version": "1.5.1", "threads": 0}}
    block = runner_block(older)
    assert block["load_ms"] == 40.0 and block["warm_load_ms"] is None
    assert block["warm_load_error"].startswith("cmx-bench-android 0.6.0 reports no warm load")
    current = {**older, "runner": {"name": "cmx-bench-android", "version": "0.7.0"}, "warm_load_ms": 12.0,
               "warm_first_inference_ms": 8.0}
    assert runner_block(current)["warm_load_error"] is None and runner_block(current)["warm_load_ms"] == 12.0
