"""compare on record sets where the truth is known."""

import json

import numpy as np
import pytest

from cmx_bench.evaluate.metrics import classification_metrics
from cmx_bench.results.compare import compare_records
from cmx_bench.results.store import write_record
from cmx_bench.results.thresholds import load_thresholds
from tests.records import make_record


def _write(folder, records):
    for record in records:
        write_record(folder, record)
    return folder


def _verdicts(result, metric):
    return {(row.model, row.verdict) for row in result.rows if row.metric == metric}


def test_identical_samples_do_not_regress(cli, tmp_path):
    base = _write(tmp_path / "base", [make_record(seed=1)])
    current = _write(tmp_path / "current", [make_record(seed=1)])
    code, out, _ = cli("compare", base, current)
    assert code == 0 and "no regression" in out


def test_large_latency_shift_with_low_noise_regresses(cli, tmp_path):
    base = _write(tmp_path / "base", [make_record(median=10.0, noise=0.2, seed=1)])
    current = _write(tmp_path / "current", [make_record(median=13.0, noise=0.2, seed=2)])
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md", "--gab-json", tmp_path / "g.json")
    assert code == 1 and "regression" in out
    assert "**1 regression(s)**" in (tmp_path / "summary.md").read_text()
    entries = json.loads((tmp_path / "g.json").read_text())
    latency = next(e for e in entries if e["name"].endswith("latency_median_ms"))
    assert latency["unit"] == "ms" and 12.5 < latency["value"] < 13.5


def test_small_shift_inside_heavy_noise_is_unchanged():
    metrics = load_thresholds()
    result = compare_records([make_record(median=10.0, noise=3.0, seed=1)],
                             [make_record(median=10.3, noise=3.0, seed=2)], metrics)
    assert _verdicts(result, "latency_median_ms") == {("squeezenet1_1", "unchanged")}
    assert not result.regressions


def test_memory_rise_over_threshold_regresses():
    result = compare_records([make_record(memory=100.0, seed=1)], [make_record(memory=120.0, seed=1)],
                             load_thresholds(overrides=["memory_pss_peak_mb=10"]))
    assert [row.metric for row in result.regressions] == ["memory_pss_peak_mb"]


def test_a_figure_either_side_lacks_is_not_compared():
    # One side without an energy figure, neither scored (no --data): no energy or accuracy rows, and no error.
    base, current = make_record(seed=1), make_record(seed=2)
    base["energy"] = {}
    result = compare_records([base], [current], load_thresholds())
    assert {row.metric for row in result.rows} == {"latency_median_ms", "cpu_ms_per_inference", "memory_pss_peak_mb",
                                                   "load_ms"}


def test_accuracy_drop_over_threshold_regresses(cli, tmp_path):
    acc = lambda value: {"accuracy": value, "auroc": {"covid_vs_rest": 0.95}}  # noqa: E731
    base = _write(tmp_path / "base", [make_record(accuracy=acc(0.90), seed=1)])
    current = _write(tmp_path / "current", [make_record(accuracy=acc(0.88), seed=1)])
    (tmp_path / "t.toml").write_text("[thresholds]\naccuracy = 0.01\n")
    code, out, _ = cli("compare", base, current, "--thresholds", tmp_path / "t.toml")
    assert code == 1
    result = compare_records([make_record(accuracy=acc(0.90), seed=1)], [make_record(accuracy=acc(0.88), seed=1)],
                             load_thresholds(tmp_path / "t.toml"))
    assert [row.metric for row in result.regressions] == ["accuracy"]


LABELS = np.repeat([0, 1, 2], 20)


def _block(probs, listing="a" * 64):
    """An accuracy block as a run with --data writes it, for 60 images."""
    block = classification_metrics(probs, LABELS, ("covid", "normal", "pneumonia"), intervals=False)
    return {**block, "outputs": probs.tolist(), "labels": LABELS.tolist(), "images_sha256": listing}


def _probs(wrong: list[int]):
    """Class probabilities with the images at the indices in `wrong` misclassified."""
    predicted = LABELS.copy()
    predicted[wrong] = (LABELS[wrong] + 1) % 3
    probs = np.full((60, 3), 0.1)
    probs[np.arange(60), predicted] = 0.8
    probs[:, 0] += np.random.default_rng(0).uniform(0, 0.05, 60)
    return probs


def _scored(wrong: list[int], listing="a" * 64):
    return _block(_probs(wrong), listing)


def test_accuracy_drop_of_two_images_on_the_same_images_is_not_significant(cli, tmp_path):
    # 0.900 -> 0.867 is past the 1-point threshold, but two images out of 60 that swapped sides are noise.
    base = _write(tmp_path / "base", [make_record(accuracy=_scored([0, 1, 2, 3, 4, 5]), seed=1)])
    current = _write(tmp_path / "current", [make_record(accuracy=_scored([0, 1, 2, 3, 4, 5, 30, 31]), seed=1)])
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    assert code == 0 and "no regression" in out
    result = compare_records([make_record(accuracy=_scored([0, 1, 2, 3, 4, 5]), seed=1)],
                             [make_record(accuracy=_scored([0, 1, 2, 3, 4, 5, 30, 31]), seed=1)], load_thresholds())
    row = next(r for r in result.rows if r.metric == "accuracy")
    assert (row.verdict, row.test) == ("unchanged", "McNemar exact") and row.p_value == pytest.approx(0.5)
    assert "McNemar" in (tmp_path / "summary.md").read_text()


def test_accuracy_drop_of_eight_images_one_way_regresses():
    result = compare_records([make_record(accuracy=_scored([]), seed=1)],
                             [make_record(accuracy=_scored(list(range(0, 40, 5))), seed=1)], load_thresholds())
    row = next(r for r in result.rows if r.metric == "accuracy")
    assert (row.verdict, row.test) == ("worse", "McNemar exact") and row.p_value == pytest.approx(2 * 0.5 ** 8)
    assert "accuracy" in [r.metric for r in result.regressions]


def test_accuracy_on_other_images_falls_back_to_the_threshold():
    result = compare_records([make_record(accuracy=_scored([0, 1, 2, 3, 4, 5]), seed=1)],
                             [make_record(accuracy=_scored([0, 1, 2, 3, 4, 5, 30, 31], listing="b" * 64), seed=1)],
                             load_thresholds())
    row = next(r for r in result.rows if r.metric == "accuracy")
    assert (row.verdict, row.test, row.p_value) == ("worse", "", None)


def test_auroc_change_on_the_same_images_is_judged_by_a_paired_bootstrap():
    def auroc_row(probs):
        result = compare_records([make_record(accuracy=_scored([]), seed=1)],
                                 [make_record(accuracy=_block(probs), seed=1)], load_thresholds())
        return next(r for r in result.rows if r.metric == "auroc_covid_vs_rest")

    # Two of the 20 COVID images fall below every other image: AUROC 1.0 -> 0.9, past the threshold, but a resample
    # without either of them (0.9 ** 20 = 12 % of resamples) shows no difference: p about 0.24, not significant.
    two_lower = _probs([])
    two_lower[[0, 1], 0] = 0.0
    row = auroc_row(two_lower)
    assert row.change == pytest.approx(-0.1) and row.test == "paired bootstrap"
    assert 0.15 < row.p_value < 0.35 and row.verdict == "unchanged"
    # COVID scores that no longer rank the classes at all: a significant drop.
    blurred = _probs([])
    blurred[:, 0] = np.random.default_rng(2).uniform(0, 1, 60)
    row = auroc_row(blurred)
    assert (row.verdict, row.test) == ("worse", "paired bootstrap") and row.p_value < 0.05


def test_mismatched_devices_are_refused_unless_allowed(cli, tmp_path):
    base = _write(tmp_path / "base", [make_record(device="pixel2", seed=1)])
    current = _write(tmp_path / "current", [make_record(device="local", seed=1)])
    code, _, err = cli("compare", base, current)
    assert code == 2 and "differ in device" in err and "--allow-mismatch" in err
    code, out, _ = cli("compare", base, current, "--allow-mismatch")
    assert code == 0


def test_bad_input_exits_2(cli, tmp_path):
    code, _, err = cli("compare", tmp_path / "nothing", tmp_path / "nothing")
    assert code == 2 and "do not exist" in err
    base = _write(tmp_path / "base", [make_record(seed=1)])
    code, _, err = cli("compare", base, base, "--threshold", "latency=fast")
    assert code == 2 and "unknown metric 'latency'" in err


def test_baseline_save_show_and_compare(cli, tmp_path):
    run = _write(tmp_path / "run", [make_record(seed=1), make_record(model="mobilenet_v2", seed=2)])
    root = tmp_path / "baselines"
    code, out, err = cli("baseline", "save", "nightly", run, "--root", root)
    assert code == 0, err
    description = json.loads((root / "nightly" / "baseline.json").read_text())
    assert len(description["runs"]) == 2 and description["saved_with"]["packages"]["torch"]
    code, _, err = cli("baseline", "save", "nightly", run, "--root", root)
    assert code == 1 and "already exists" in err
    code, out, _ = cli("baseline", "show", "nightly", "--root", root)
    assert code == 0 and "mobilenet_v2" in out
    code, out, _ = cli("compare", root / "nightly", run)
    assert code == 0


@pytest.mark.parametrize("value,relative", [("5%", True), ("3", False)])
def test_threshold_values(value, relative):
    metric = load_thresholds(overrides=[f"latency_median_ms={value}"])["latency_median_ms"]
    assert metric.relative is relative


def test_a_thread_change_is_a_configuration_difference_not_a_cpu_regression(cli, tmp_path):
    # Two threads: twice the CPU share and a little more CPU time per inference, but faster.
    one = make_record(threads=1, median=10.0, cpu_seconds=0.8, seed=1)
    two = make_record(threads=2, median=6.0, cpu_seconds=1.0, seed=2)
    two["cpu"]["cpu_device_pct"] = 80.0
    result = compare_records([one], [two], load_thresholds())
    cpu = next(row for row in result.rows if row.metric == "cpu_ms_per_inference")
    assert cpu.verdict == "not judged" and not cpu.regression and (cpu.base_threads, cpu.current_threads) == ("1", "2")
    assert not result.regressions
    assert [(d.setting, d.base, d.current) for d in result.configuration_differences] == [("threads", "1", "2")]
    code, out, _ = cli("compare", _write(tmp_path / "base", [one]), _write(tmp_path / "current", [two]))
    assert code == 0 and "configuration differs" in out and "threads 1 (base) vs 2 (current)" in out


def test_a_slower_run_still_regresses_when_threads_differ(cli, tmp_path):
    base = _write(tmp_path / "base", [make_record(threads=1, median=10.0, seed=1)])
    current = _write(tmp_path / "current", [make_record(threads=2, median=15.0, seed=2)])
    code, out, _ = cli("compare", base, current)
    assert code == 1 and "worse (regression)" in out


def test_cpu_time_per_inference_regresses_with_the_same_configuration():
    result = compare_records([make_record(cpu_seconds=0.8, seed=1)], [make_record(cpu_seconds=1.2, seed=1)],
                             load_thresholds())
    assert [row.metric for row in result.regressions] == ["cpu_ms_per_inference"]


def test_threshold_column_uses_one_convention(tmp_path):
    from cmx_bench.report.comparison import comparison_markdown

    result = compare_records([make_record(seed=1)], [make_record(seed=1)], load_thresholds())
    thresholds = {row.metric: row.threshold for row in result.rows}
    assert thresholds["latency_median_ms"] == "10 % of base" and thresholds["memory_pss_peak_mb"] == "10 MB"
    assert "10 % of base" in comparison_markdown(result.as_dicts(), [], [])


def test_compare_table_fits_80_columns_with_whole_names_and_verdicts(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    base = _write(tmp_path / "base", [make_record(model="shufflenet_v2_x1_0", median=10.0, noise=0.2, seed=1)])
    current = _write(tmp_path / "current", [make_record(model="shufflenet_v2_x1_0", median=13.0, noise=0.2, seed=2)])
    code, out, _ = cli("compare", base, current)
    assert code == 1
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    assert any("shufflenet_v2_x1_0" in line and "worse (regression)" in line for line in lines)
    assert "…" not in out


def _profiled(record, slow_operator=None, factor=1.0):
    names = [("Convolution (NHWC, F32) IGEMM #1", 0), ("Fully Connected (NC, F32) GEMM #2", 0),
             ("Transpose (ND, X32) #1", 0), ("Fully Connected (NC, F32) GEMM #2", 1), ("native_call_mean.out", None)]
    operators = [{"name": name, "partition": partition, "median_ms": 0.5 + 0.1 * index, "p90_ms": 0.6,
                  "delegated": partition is not None, "backend": "XnnpackBackend", "category": "x", "occurrences": 20,
                  "share": 0.1, "module": None} for index, (name, partition) in enumerate(names)]
    for row in operators:
        if (row["name"], row["partition"]) == slow_operator:
            row["median_ms"] *= factor
    record["profile"] = {"status": "ok", "operators": operators, "categories": {}, "coverage": 1.0}
    return record


def test_compare_names_the_operator_that_was_slowed_first(cli, tmp_path):
    slowed = ("Fully Connected (NC, F32) GEMM #2", 1)
    base = _write(tmp_path / "base", [_profiled(make_record(seed=1))])
    current = _write(tmp_path / "current", [_profiled(make_record(seed=1), slowed, factor=3.0)])
    result = compare_records(load_records_from(base), load_records_from(current), load_thresholds())
    [(key, changes)] = result.operators.items()
    assert (changes[0]["operator"], changes[0]["partition"]) == slowed and changes[0]["verdict"] == "slower"
    assert len(changes) == 1  # the same-named operator of partition 0 did not change
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    table = out[out.index("Operators whose time changed most"):]
    assert table.splitlines()[4].split("│")[1].strip() == slowed[0]
    assert "Operators whose time changed most" in (tmp_path / "summary.md").read_text()


def load_records_from(folder):
    from cmx_bench.results.store import load_records

    return load_records([folder])


def _at_threads(threads: int, median: float, seed: int) -> dict:
    record = make_record(median=median, noise=0.1, seed=seed, threads=threads)
    record["config"]["threads"] = threads
    return record


def test_runs_pair_by_threads_when_a_side_holds_several_thread_counts():
    # Base: 1 thread at 10 ms, 2 threads at 6 ms. Current: the same, but 2 threads regressed to 8 ms. Pooled by
    # (device, model, format) alone the two thread counts would blur into one group.
    base = [_at_threads(1, 10.0, 1), _at_threads(2, 6.0, 2)]
    current = [_at_threads(1, 10.0, 3), _at_threads(2, 8.0, 4)]
    result = compare_records(base, current, load_thresholds())
    latency = {(row.base_threads, row.verdict) for row in result.rows if row.metric == "latency_median_ms"}
    assert latency == {("1", "unchanged"), ("2", "worse")}
    assert not result.configuration_differences
    # One benchmark series per thread count, so that a dashboard does not mix them.
    from cmx_bench.report.comparison import github_action_benchmark
    names = [entry["name"] for entry in github_action_benchmark(result.as_dicts())]
    assert len(names) == len(set(names)) and any("(2 threads)" in name for name in names)


def test_one_thread_count_a_side_stays_a_configuration_difference():
    result = compare_records([_at_threads(1, 10.0, 1)], [_at_threads(2, 6.0, 2)], load_thresholds())
    [latency] = [row for row in result.rows if row.metric == "latency_median_ms"]
    assert (latency.base_threads, latency.current_threads, latency.verdict) == ("1", "2", "better")
    assert [d.setting for d in result.configuration_differences] == ["threads"]
