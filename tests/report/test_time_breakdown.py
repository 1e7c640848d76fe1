"""The "Where the time goes" glance table from profiles whose shares are known."""

from cmx_bench.report.time_breakdown import glance_frame, io_conversion_ms, lowering_label
from tests.records import make_record


def _profiled(model: str, categories: dict, operators: list[dict], lowering: dict | None, macs: float) -> dict:
    record = make_record(model=model)
    record["profile"] = {"status": "ok", "categories": categories, "operators": operators, "measured_median_ms": 5.0,
                         "network": {"macs": macs}}
    if lowering is not None:
        record["artifact"]["lowering"] = lowering
    return record


def test_glance_states_partitions_operators_outside_and_time_not_computing():
    cut = _profiled("shufflenet_v2_x1_0",
                    {"convolution": 2.0, "layout": 1.0, "runtime overhead": 0.5, "portable ops": 0.5},
                    [{"name": "Convolution", "backend": "xnnpack", "partition": 0},
                     {"name": "native_call_split_with_sizes_copy.out", "backend": "portable", "partition": None},
                     {"name": "Transpose", "backend": "xnnpack", "partition": 1}], None, 146e6)
    whole = _profiled("mobilenet_v2", {"convolution": 3.6, "quantize/dequantize": 0.4},
                      [{"name": "Convolution", "backend": "xnnpack", "partition": 0}],
                      {"name": "cmx", "target": "arm", "partitions": 1}, 300e6)
    frame = glance_frame([cut, whole]).set_index("Model")
    assert frame.loc["shufflenet_v2_x1_0", "Partitions"] == 2  # read from the rows when the manifest has none
    assert frame.loc["shufflenet_v2_x1_0", "Outside the delegate"] == "native_call_split_with_sizes_copy.out"
    assert frame.loc["shufflenet_v2_x1_0", "Lowering"] == "stock"
    assert (frame.loc["shufflenet_v2_x1_0", "Layout"], frame.loc["shufflenet_v2_x1_0", "Not computing"]) == \
        ("25.0%", "50.0%")
    assert frame.loc["shufflenet_v2_x1_0", "I/O conversion"] is None  # rows never mapped to modules: unknown
    assert frame.loc["mobilenet_v2", "Outside the delegate"] == "none"
    assert frame.loc["mobilenet_v2", "Quantize/dequantize"] == "10.0%"
    assert frame.loc["mobilenet_v2", "Partitions"] == 1 and frame.loc["mobilenet_v2", "MACs (M)"] == 300
    assert frame.loc["mobilenet_v2", "Lowering"] == "cmx for arm"  # the target its passes were chosen for


def test_the_lowering_label_says_when_the_choices_were_tuned_on_the_device():
    assert lowering_label({"name": "cmx", "target": "arm", "choices_source": "tuned on pixel2 2026-12-07"}) == \
        "cmx for arm, tuned"
    assert lowering_label({"name": "cmx", "target": "arm", "choices_source": "default for arm"}) == "cmx for arm"
    assert lowering_label({"name": "stock", "target": None}) == "stock"


def test_the_programs_input_and_output_conversions_are_told_apart_from_the_networks_layout():
    rows = [{"name": "Convert", "category": "quantize/dequantize", "median_ms": 0.1},
            {"name": "Transpose #1", "category": "layout", "module_match": "inserted", "median_ms": 0.4},  # input
            {"name": "Convolution", "category": "convolution", "median_ms": 2.0},
            {"name": "Transpose #2", "category": "layout", "module_match": "inserted", "median_ms": 0.3},  # a view's
            {"name": "Slice", "category": "layout", "module_match": "operator", "median_ms": 0.2},
            {"name": "Fully Connected", "category": "GEMM (1x1 conv, fully connected)", "median_ms": 0.6},
            {"name": "Transpose #3", "category": "layout", "module_match": "inserted", "median_ms": 0.4}]  # output
    assert io_conversion_ms(rows) == 0.8
    assert io_conversion_ms([{k: v for k, v in row.items() if k != "module_match"} for row in rows]) is None
    record = _profiled("shufflenet_v2_x1_0", {"convolution": 2.0, "GEMM (1x1 conv, fully connected)": 0.6,
                                              "layout": 1.3, "quantize/dequantize": 0.1},
                       rows, {"name": "cmx", "partitions": 1}, 146e6)
    row = glance_frame([record]).iloc[0]
    assert (row["Layout"], row["I/O conversion"], row["Not computing"]) == ("12.5%", "20.0%", "35.0%")


def test_xnnpack_timer_rounding_is_shown_and_counted_neither_as_computing_nor_as_not():
    rows = [{"name": "Transpose #1", "category": "layout", "module_match": "inserted", "median_ms": 0.4},  # input
            {"name": "Convolution", "category": "convolution", "module_match": "operator", "median_ms": 2.0},
            {"name": "Transpose #2", "category": "layout", "module_match": "inserted", "median_ms": 0.4},  # output
            {"name": "XNNPACK timer rounding (estimated)", "category": "timer rounding", "median_ms": 0.1},
            {"name": "delegate call overhead", "category": "runtime overhead", "median_ms": 0.1}]
    assert io_conversion_ms(rows) == 0.8  # the rows after the last convolution are not computing it
    record = _profiled("mobilenet_v2", {"convolution": 2.0, "layout": 0.8, "timer rounding": 0.1,
                                        "runtime overhead": 0.1}, rows, {"name": "cmx", "partitions": 1}, 300e6)
    row = glance_frame([record]).iloc[0]
    assert (row["Delegate overhead"], row["Timer rounding"], row["Not computing"]) == ("3.3%", "3.3%", "30.0%")
    # A profile recorded before the rounding was told apart: its overhead holds it, and the glance says none.
    del record["profile"]["categories"]["timer rounding"]
    assert glance_frame([record]).iloc[0]["Timer rounding"] is None


def test_no_profiled_run_gives_no_table():
    assert glance_frame([make_record()]) is None
