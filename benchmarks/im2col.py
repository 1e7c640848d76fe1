"""Whether XNNPACK runs a convolution with a larger kernel faster as im2col and one GEMM than as its own IGEMM.

Run: python benchmarks/im2col.py [--precision fp32|int8 --threads 2 --rounds 7 --iters 50]
(run it alone on the machine)

Part 1, the shapes: for each (input channels, output channels, map size) of a stride-1 3x3 convolution with ReLU
(SqueezeNet's expand3x3 layers, a DenseNet growth layer and two wider ones), the fp32 `.pte` (default `cmx`
lowering) with cmx_bench/export/passes.py's im2col_convolutions forced on (whatever its rule says of the shape) and
with it skipped, timed in interleaved rounds; prints each form's median ms and GMAC/s, the median per-round
im2col / direct ratio (below 1.0: im2col is faster) and whether the pass's rule rewrites that shape.
Part 2, the network: SqueezeNet 1.1 (random weights, seed 0, 224 px, softmax output), the same two ways.
This is what passes.py's IM2COL_MIN_OUT_CHANNELS rests on. `--precision int8` measures the same in int8 (calibrated
on 16 generated inputs), which the cmx lowering skips the pass for (lowering.py's SKIPPED_INT8): here the pass runs,
and the padding it adds is annotated to share its input's quantisation (XNNPACK's quantiser leaves
`constant_pad_nd` out, and XNNPACK's int8 padding needs the same parameters in and out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from unittest import mock

import torch
from runtimes import LocalRunner, interleaved_medians  # the sibling script: its timing loop

from cmx_bench.data.preprocess import generated_inputs
from cmx_bench.export import lowering, passes
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.targets import host_target
from cmx_bench.nets.registry import build_model, get_card

# (input channels, output channels, map size): SqueezeNet 1.1's four expand3x3 shapes, DenseNet-121's growth layer
# of its second block, two wider ones.
SHAPES = ((16, 64, 55), (32, 128, 27), (48, 192, 13), (64, 256, 13), (128, 32, 28), (128, 128, 28), (256, 256, 14))


def padding_shared_quantizer():
    """XNNPACK's quantiser, with each constant_pad_nd (and the slices after it) sharing its input's parameters."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils import propagate_annotation
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    class PaddingShared(XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            for node in model.graph.nodes:
                source = node.args[0] if node.target is torch.ops.aten.constant_pad_nd.default else None
                if source is not None and source.meta.get("quantization_annotation") is not None:
                    shared = SharedQuantizationSpec(source)
                    node.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={source: shared}, output_qspec=shared, _annotated=True)
            propagate_annotation(model)  # again: the slices that read the padding
            return model

    return PaddingShared


def program(network: torch.nn.Module, example: torch.Tensor, im2col: bool, precision: str) -> bytes:
    """The network's `.pte` with im2col_convolutions forced on (whatever its rule says) or skipped."""
    skip = tuple(name for name in lowering.skipped_passes(host_target(), precision) if name != "im2col_convolutions")
    skip += () if im2col else ("im2col_convolutions",)
    with mock.patch.object(passes, "IM2COL_MIN_OUT_CHANNELS", 1):
        if precision == "fp32":
            return lowering.to_pte(network, example, skip=skip)
        from executorch.backends.xnnpack.quantizer import xnnpack_quantizer

        calibration = [torch.rand(example.shape, generator=torch.Generator().manual_seed(i)) for i in range(16)]
        with mock.patch.object(lowering, "SKIPPED_INT8", skip), \
                mock.patch.object(xnnpack_quantizer, "XNNPACKQuantizer", padding_shared_quantizer()):
            quantized = lowering.quantize_int8(network, example, calibration)
        return lowering.to_pte(quantized, example)


def both_forms(network: torch.nn.Module, example: torch.Tensor, folder: Path, name: str,
               precision: str) -> dict[str, LocalRunner]:
    """Runners of the network's `.pte` with im2col_convolutions forced on and with it skipped."""
    runners = {}
    for form in ("im2col", "direct"):
        path = folder / f"{name}-{precision}-{form}.pte"
        path.write_bytes(program(network, example, form == "im2col", precision))
        runners[form] = LocalRunner(load_artifact(path, "executorch"), example)
    return runners


def compare(runners: dict[str, LocalRunner], rounds: int, iters: int) -> dict:
    medians = interleaved_medians(runners, rounds, iters)
    ratios = [im2col / direct for im2col, direct in zip(medians["im2col"], medians["direct"])]
    return {**{f"{form}_ms": round(statistics.median(values), 3) for form, values in medians.items()},
            "im2col_over_direct": round(statistics.median(ratios), 3), "rounds": [round(r, 3) for r in ratios]}


def shape_row(inputs: int, outputs: int, pixels: int, args, folder: Path) -> dict:
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(inputs, outputs, 3, padding=1), torch.nn.ReLU()).eval()
    result = compare(both_forms(network, torch.randn(1, inputs, pixels, pixels), folder, f"{inputs}-{outputs}",
                                args.precision), args.rounds, args.iters)
    macs = inputs * 9 * outputs * pixels * pixels
    return {"in": inputs, "out": outputs, "pixels": pixels, **result,
            **{f"{form}_gmac_per_s": round(macs / result[f"{form}_ms"] / 1e6, 1) for form in ("im2col", "direct")},
            "rule_rewrites": outputs >= passes.IM2COL_MIN_OUT_CHANNELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps({"precision": args.precision, "threads": set_threads("executorch", args.threads)}), flush=True)
    with tempfile.TemporaryDirectory(prefix="cmx-im2col-") as name:
        folder = Path(name)
        for inputs, outputs, pixels in SHAPES:
            print(json.dumps(shape_row(inputs, outputs, pixels, args, folder)), flush=True)
        card = get_card("squeezenet1_1")
        torch.manual_seed(0)
        network = lowering.WithSoftmax(build_model(card)).eval()
        example = generated_inputs(card, 1)[0]
        print(json.dumps({"network": card.name, **compare(both_forms(network, example, folder, card.name,
                                                                     args.precision), args.rounds, args.iters)}),
              flush=True)


if __name__ == "__main__":
    main()
