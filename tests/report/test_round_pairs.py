"""Round-paired ratios: each model against the first of its format, each format against the model's first, from
the per-round medians of one run's interleaved rounds."""

from cmx_bench.report.round_pairs import round_pair_notes


def _record(model, fmt, medians, run_id="run-1", status="ok", rounds=None):
    rounds = rounds or list(range(1, len(medians) + 1))
    return {"run_id": run_id, "status": status, "record_id": f"{model}-{fmt}-{len(medians)}",
            "config": {"model": model, "format": fmt, "device": "pixel2", "threads": 2},
            "latency": {"rounds": [{"round": r, "count": 30, "median_ms": m} for r, m in zip(rounds, medians)]}}


def test_a_drifting_device_still_gives_the_ratio_of_each_round():
    # the device runs twice as slow in round 2, for both networks: every round says 0.60x
    notes = round_pair_notes([_record("mobilenet_v2", "pte", [1.0, 2.0, 1.0]),
                              _record("shufflenet_v2_x1_0", "pte", [0.6, 1.2, 0.6])])
    assert notes == ["shufflenet_v2_x1_0 pte on pixel2 at 2 threads: 0.60x mobilenet_v2's time, median of 3 "
                     "per-round ratios (0.60-0.60)"]


def test_formats_pair_within_a_model_and_models_within_a_format():
    notes = round_pair_notes([_record("mobilenet_v2", "pte", [2.0, 2.0]), _record("mobilenet_v2", "pte-int8", [1.0, 1.2]),
                              _record("squeezenet1_1", "pte", [1.0, 1.0]),
                              _record("squeezenet1_1", "pte-int8", [0.25, 0.25])])
    assert "squeezenet1_1 pte on pixel2 at 2 threads: 0.50x mobilenet_v2's time, median of 2 per-round ratios " \
           "(0.50-0.50)" in notes
    assert "squeezenet1_1 pte-int8 on pixel2 at 2 threads: 0.23x mobilenet_v2's time, median of 2 per-round " \
           "ratios (0.21-0.25)" in notes
    assert "mobilenet_v2 pte-int8 on pixel2 at 2 threads: 0.55x its pte's time, median of 2 per-round ratios " \
           "(0.50-0.60)" in notes
    assert len(notes) == 4


def test_only_rounds_both_measured_pair_and_fewer_than_two_give_no_line():
    reference = _record("mobilenet_v2", "pte", [1.0, 1.0, 1.0])
    lost_round_3 = _record("shufflenet_v2_x1_0", "pte", [0.5, 0.7])
    [line] = round_pair_notes([reference, lost_round_3])
    assert "0.60x" in line and "median of 2 per-round ratios (0.50-0.70)" in line
    assert round_pair_notes([reference, _record("shufflenet_v2_x1_0", "pte", [0.5])]) == []


def test_other_runs_failed_records_and_zero_medians_are_not_paired():
    reference = _record("mobilenet_v2", "pte", [1.0, 1.0])
    assert round_pair_notes([reference, _record("shufflenet_v2_x1_0", "pte", [0.5, 0.5], run_id="run-2")]) == []
    assert round_pair_notes([reference, _record("shufflenet_v2_x1_0", "pte", [0.5, 0.5], status="error")]) == []
    assert round_pair_notes([_record("mobilenet_v2", "pte", [0.0, 1.0]),
                             _record("shufflenet_v2_x1_0", "pte", [0.5, 0.5])]) == []


def test_thread_counts_pair_within_a_model_and_format():
    one, two = _record("mobilenet_v2", "pte", [4.0, 8.0]), _record("mobilenet_v2", "pte", [2.2, 4.4])
    one["config"]["threads"] = 1
    assert round_pair_notes([one, two]) == [
        "mobilenet_v2 pte on pixel2 at 2 threads: 0.55x its time at 1 thread, median of 2 per-round ratios "
        "(0.55-0.55)"]
    one["config"]["threads"] = 0  # the runtime's default
    assert round_pair_notes([one, two])[0].endswith("0.55x its time at the default threads, median of 2 per-round "
                                                    "ratios (0.55-0.55)")


def test_the_pairs_do_not_depend_on_the_order_the_records_come_in():
    # `run` has its records in plan order, `report` in file-name order: both pair by name
    records = [_record("squeezenet1_1", "pte", [1.0, 1.0]), _record("mobilenet_v2", "pte", [2.0, 2.0])]
    assert round_pair_notes(records) == round_pair_notes(records[::-1]) == [
        "squeezenet1_1 pte on pixel2 at 2 threads: 0.50x mobilenet_v2's time, median of 2 per-round ratios "
        "(0.50-0.50)"]


def test_two_artifacts_of_one_network_are_not_paired_with_each_other():
    first, second = _record("mobilenet_v2", "pte", [2.0, 2.0]), _record("mobilenet_v2", "pte", [1.8, 1.8])
    second["record_id"] = "another"
    assert round_pair_notes([first, second]) == []
