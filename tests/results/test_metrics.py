"""Each figure read from a record, and None (not an error) wherever the record lacks it."""

from dataclasses import fields
from pathlib import Path

import pytest

from cmx_bench.results.metrics import (READERS, RecordFigures, cpu_ms_per_inference, memory_model_mb, record_figures,
                                       threads_in_force)
from cmx_bench.results.store import load_records
from cmx_bench.results.thresholds import DEFAULT_METRICS
from tests.records import make_record

V1_RECORD = Path(__file__).resolve().parents[1] / "fixtures" / "records" / "v1" / "local__squeezenet1_1__pte.json"
# What a reader returns for a record without its figure: None, save for these two.
ABSENT = {"latency_samples_ms": (), "threads_in_force": "default"}


def test_every_figure_of_a_stored_host_run():
    [record] = load_records([V1_RECORD])
    figures = record_figures(record)
    assert len(figures.latency_samples_ms) == 603 and figures.latency_samples_ms[0] == 3.489116
    assert figures.latency_median_ms == 3.191713 and figures.latency_median_ci95_ms == (3.176771, 3.206975)
    assert figures.latency_p90_ms == 3.620822 and figures.latency_unstable is False
    assert figures.latency_cv == pytest.approx(0.1613441) and figures.latency_robust_cv == pytest.approx(0.0708697)
    assert figures.load_ms == pytest.approx(16.733328)
    assert figures.artifact_size_mb == pytest.approx(2907020 / 2**20)
    assert figures.cpu_device_pct == pytest.approx(92.902) and figures.cpu_core_pct == pytest.approx(184.38053)
    assert figures.cpu_ms_per_inference == pytest.approx(1e3 * 3.6897079179724486 / 603)
    assert figures.threads_in_force == 2  # the runtime's report; the job asked for 0, its default
    assert figures.memory_model_mb == 10.51953125  # the USS rise, not the PSS rise (10.86)
    assert figures.memory_pss_peak_mb == pytest.approx(683.29004)
    assert figures.memory_rss_peak_mb == pytest.approx(926.45703)
    assert figures.energy_per_inference_mj == pytest.approx(30.594593)
    assert (figures.energy_method, figures.energy_class) == ("power_model", "Heavy")
    # run without --data: no accuracy block at all
    assert (figures.accuracy, figures.accuracy_ci95, figures.auroc_covid_vs_rest, figures.parity_argmax_agreement) \
        == (None, None, None, None)


def test_accuracy_figures_of_a_scored_run():
    block = {"accuracy": 0.9, "ci95": {"accuracy": [0.85, 0.94]}, "auroc": {"covid_vs_rest": 0.97},
             "parity": {"argmax_agreement": 1.0}}
    figures = record_figures(make_record(accuracy=block))
    assert (figures.accuracy, figures.accuracy_ci95) == (0.9, (0.85, 0.94))
    assert (figures.auroc_covid_vs_rest, figures.parity_argmax_agreement) == (0.97, 1.0)


def test_an_accuracy_block_without_intervals_or_auroc_gives_none_for_them():
    figures = record_figures(make_record(accuracy={"accuracy": 0.5}))
    assert figures.accuracy == 0.5
    assert (figures.accuracy_ci95, figures.auroc_covid_vs_rest, figures.parity_argmax_agreement) == (None, None, None)


def _failed_run() -> dict:
    """A record as a run that failed before measuring writes it: no stats, empty blocks."""
    record = make_record()
    record.update(status="error", errors=["load failed"], latency={"samples_ms": [], "stats": None}, runner={},
                  cpu={}, memory={}, energy={})
    record["artifact"].pop("size_bytes")
    record["config"]["threads"] = 0
    return record


@pytest.mark.parametrize("name", READERS)
@pytest.mark.parametrize("record", [_failed_run(), {}], ids=["failed run", "no blocks"])
def test_a_missing_figure_reads_as_none(record, name):
    assert READERS[name](record) == ABSENT.get(name)


def test_a_failed_run_has_no_figures():
    figures = record_figures(_failed_run())
    assert {f.name: getattr(figures, f.name) for f in fields(figures) if getattr(figures, f.name) is not None} \
        == ABSENT


def test_threads_in_force_prefer_the_runtime_over_the_configuration():
    reported = make_record(threads=4)
    reported["config"]["threads"] = 2
    assert threads_in_force(reported) == 4
    silent = make_record()
    silent["runner"]["runtime"].pop("threads")
    silent["config"]["threads"] = 2
    assert threads_in_force(silent) == 2
    silent["config"]["threads"] = 0  # the job's "runtime default"
    assert threads_in_force(silent) == "default"


def test_model_memory_is_the_uss_rise_where_sampled_else_the_pss_rise():
    phone = make_record(device="pixel2")  # dumpsys meminfo: PSS only
    assert memory_model_mb(phone) == 10.0
    phone["memory"]["uss_delta_mb"] = 7.5
    assert memory_model_mb(phone) == 7.5


def test_cpu_time_per_inference_needs_both_cpu_seconds_and_inferences():
    record = make_record(cpu_seconds=0.8, n=200)
    assert cpu_ms_per_inference(record) == pytest.approx(4.0)
    record["cpu"]["cpu_seconds"] = None
    assert cpu_ms_per_inference(record) is None


def test_every_figure_compare_judges_has_a_reader():
    assert set(DEFAULT_METRICS) <= set(READERS)


def test_record_figures_has_one_field_per_reader_in_the_same_order():
    assert [f.name for f in fields(RecordFigures)] == list(READERS)


def test_threads_in_force_is_an_int_when_a_record_writes_the_count_as_1_0():
    from cmx_bench.results.metrics import threads_in_force

    # JSON Schema's "integer" admits 1.0 (found by tests/results/test_record_loader_fuzz.py)
    count = threads_in_force({"runner": {"runtime": {"threads": 1.0}}, "config": {"threads": 0}})
    assert count == 1 and type(count) is int
    assert threads_in_force({"runner": {"runtime": {"threads": None}}, "config": {"threads": 0}}) == "default"
