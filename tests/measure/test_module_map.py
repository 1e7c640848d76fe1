"""Aligning XNNPACK's operator events with the ETRecord's nodes: fused nodes, inserted layout ops, multi-op nodes."""

from cmx_bench.measure.module_map import align, event_family

NODES = [("dequantize_per_channel", "(graph input/output)"), ("quantize_per_tensor", "(graph input/output)"),
         ("convolution", "features.0"), ("_native_batch_norm_legit_no_training", "features.1"),
         ("relu", "features.2"), ("max_pool2d", "features.3"), ("convolution", "block.a"),
         ("convolution", "block.b"), ("cat", "block"), ("mean", "classifier.0"), ("linear", "classifier.1"),
         ("_softmax", "(output softmax)")]


def test_event_family_drops_layout_and_number():
    assert event_family("Fully Connected (NC, QS8, QC8W) GEMM #34") == "Fully Connected"
    assert event_family("Mean (ND) Reduce2 #1") == "Mean"


def test_each_event_takes_the_next_compatible_node_and_inserted_ones_the_module_they_feed():
    events = ["Convert (NC) #1", "Transpose (ND, X8) #1", "Convolution (NHWC, QC8) IGEMM #1",
              "Max Pooling (NHWC, F32) #1", "Fully Connected (NC, F32) GEMM #1", "Convolution (NHWC, F32) IGEMM #2",
              "Copy (NC, X32) #1", "Copy (NC, X32) #2", "Global Average Pooling (NWC, F32) #1",
              "Fully Connected (NC, F32) GEMM #2", "Softmax (NC, F32) #1"]
    assert align(events, NODES) == [
        ("features.0", "operator"),   # the input quantize belongs to the operator it feeds
        ("features.0", "inserted"),   # XNNPACK's own NCHW -> NHWC transpose: no node of its own
        ("features.0", "operator"),   # BatchNorm and ReLU fold into it
        ("features.3", "operator"),
        ("block.a", "operator"),      # a 1x1 convolution runs as a GEMM
        ("block.b", "operator"),
        ("block", "operator"), ("block", "operator"),  # one copy per concatenated input
        ("classifier.0", "operator"), ("classifier.1", "operator"), ("(output softmax)", "operator")]


def test_an_event_without_a_compatible_node_before_the_next_real_operator_does_not_skip_it():
    nodes = [("convolution", "a"), ("add", "b"), ("convolution", "c")]
    # "Multiply" has no node; it must not swallow "add" and shift every later event.
    assert align(["Convolution (NHWC, F32) IGEMM #1", "Multiply (ND) #1", "Add (ND) #1",
                  "Convolution (NHWC, F32) IGEMM #2"], nodes) == [
        ("a", "operator"), ("b", "inserted"), ("b", "operator"), ("c", "operator")]
