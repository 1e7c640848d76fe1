"""Lowering choices: each target's defaults, one knob set at a time, and choices read back from a tuning file."""

import pytest

from cmx_bench.errors import UnknownNameError
from cmx_bench.export import choices, targets


def test_every_target_plans_fp32_shufflenet_and_only_avx2_runs_the_microkernel_passes():
    for target in targets.TARGETS:
        default = choices.target_default(target)
        assert default.planned("fp32") and not default.planned("int8")
        assert default.skipped("int8") == choices.SKIPPED_INT8
        assert default.source == f"default for {target}"
    assert choices.target_default("x86-64-avx2").skipped("fp32") == ()
    assert choices.target_default("arm").skipped("fp32") == choices.MICROKERNEL_PASSES


def test_setting_a_knob_changes_that_precision_only_and_keeps_the_knob_order():
    base = choices.target_default("arm")
    im2col = base.with_knob("fp32", "im2col_convolutions", True, "tuned")
    assert im2col.fp32 == ("plan_shuffles", "im2col_convolutions") and im2col.int8 == base.int8
    assert im2col.skipped("fp32") == ("pad_to_gemm_width",) and im2col.source == "tuned"
    # set in another order, the same choices compare equal (they are part of an artifact's cache key)
    both = im2col.with_knob("fp32", "pad_to_gemm_width", True, "tuned")
    again = base.with_knob("fp32", "pad_to_gemm_width", True, "tuned").with_knob("fp32", "im2col_convolutions", True,
                                                                                  "tuned")
    assert both == again and both.fp32 == choices.KNOBS["fp32"]
    planned = base.with_knob("int8", "plan_shuffles", True, "tuned")
    assert planned.planned("int8") and planned.fp32 == base.fp32
    assert not planned.with_knob("int8", "plan_shuffles", False, "tuned").planned("int8")


def test_an_unknown_knob_is_refused():
    with pytest.raises(UnknownNameError, match="unknown int8 lowering knob 'im2col_convolutions'"):
        choices.target_default("arm").with_knob("int8", "im2col_convolutions", True, "tuned")
    with pytest.raises(ValueError, match="unknown fp32 knob 'fast_math'"):
        choices.choices_of({"fp32": ["fast_math"]}, "tuned")


def test_choices_read_back_in_knob_order_whatever_order_they_were_written_in():
    read = choices.choices_of({"fp32": ["im2col_convolutions", "plan_shuffles"], "int8": []}, "tuned on x")
    assert read == choices.LoweringChoices(("plan_shuffles", "im2col_convolutions"), (), "tuned on x")
