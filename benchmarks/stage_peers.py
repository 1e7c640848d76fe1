"""Where a peer's lead over cmx-bench's `.pte` comes from: stages or layers timed alone, or removed, in every runtime.

Run: python benchmarks/stage_peers.py [--model shufflenet_v2_x1_0 --precision fp32 --cut stages --threads 2
     --rounds 5 --iters 40 --litert-venv DIR --no-litert]
(needs: pip install -e '.[bench]'; run it alone on the machine; LiteRT in its own venv, as benchmarks/runtimes.py
builds it)

The student (random weights, seed 0) is cut into its stages as torchvision defines them (ShuffleNetV2: conv1,
maxpool, stage2-4, conv5, the head; MobileNetV2 and SqueezeNet: each `features` block, then the classifier), and
each stage's input is what the stages before it give on one generated 224 px image. Every stage is then exported
and timed on that input as runtimes.py times whole networks: the `.pte` (default `cmx` lowering), ONNX Runtime and
LiteRT at --precision (int8: each calibrated on the stage's inputs from the same 16 generated images), all at
--threads threads, in interleaved rounds. Prints one JSON line per stage with each runtime's median ms and the
`.pte` minus the fastest peer, then the sums. A stage alone pays its own call and its input's and output's layout
conversion in every runtime, so the sums exceed the whole network's time; what a stage's difference says is
where the whole network's difference sits. ShuffleNetV2's stage2-4 alone are not planned without their channel
shuffles (cmx_bench/export/shuffle_plan.py plans whole networks), so their `.pte` times include the shuffles'
transposes that the whole network's program does not have: for them, compare the `.pte` profile's module times.
With --cut depthwise, the pieces are the network's depthwise convolutions instead, each alone (no batch norm or
activation), on the input the whole network gives it: whether one kind of operator is where a peer leads.
A layer alone mostly measures its own call and layout conversions, though. --cut without-depthwise answers the same
question inside the whole network: it times the whole network and the same network without its stride-1 depthwise
convolutions (each with the batch norm and ReLU after it; the stride-2 ones stay, as the shapes need them) in the
same interleaved rounds, and prints per runtime what the removed layers cost in place (whole minus ablated, per
round: median and range), and how much of the `.pte`'s gap to the whole network's fastest peer they account for.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
from pathlib import Path

import torch
import torchvision
# The sibling script: the same peers, built the same way.
from runtimes import (CALIBRATION_INPUTS, ROOT, SETTLE_S, LiteRTPeer, LocalRunner, ensure_litert_venv,
                      export_onnx, interleaved_medians, ort_runner, quantize_onnx)

from cmx_bench.data.preprocess import generated_inputs
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.lowering import quantize_int8, to_pte
from cmx_bench.nets.registry import STUDENTS, build_model, get_card


class Head(torch.nn.Module):
    """ShuffleNetV2's forward after conv5: the global mean, then the classifier."""

    def __init__(self, fc: torch.nn.Module):
        super().__init__()
        self.fc = fc

    def forward(self, x):
        return self.fc(x.mean([2, 3]))


class Classifier(torch.nn.Module):
    """MobileNetV2's forward after its features: pooling, flattening, the classifier."""

    def __init__(self, classifier: torch.nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


_ACTIVATIONS = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Hardtanh)


def stages(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(name, module) of each stage, in order: applied one after another they are the network's forward."""
    if isinstance(model, torchvision.models.ShuffleNetV2):
        return [(name, getattr(model, name)) for name in ("conv1", "maxpool", "stage2", "stage3", "stage4", "conv5")
                ] + [("head", Head(model.fc).eval())]
    head = (Classifier(model.classifier) if isinstance(model, torchvision.models.MobileNetV2)
            else torch.nn.Sequential(model.classifier, torch.nn.Flatten(1)))
    blocks: list[tuple[str, torch.nn.Module]] = []
    for index, block in enumerate(model.features):
        if isinstance(block, _ACTIVATIONS) and blocks:  # in place on its input: exported with the block before it
            name, before = blocks.pop()
            block, index = torch.nn.Sequential(before, block).eval(), f"{name.split('.')[-1]}-{index}"
        blocks.append((f"features.{index}", block))
    return blocks + [("classifier", head.eval())]  # a new container is in training mode: dropout would draw


def stage_inputs(model: torch.nn.Module, images: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Per stage, its input for each image."""
    inputs, current = [], images
    with torch.no_grad():
        for _, module in stages(model):
            inputs.append(current)
            current = [module(x) for x in current]
    return inputs


def depthwise_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(name, module) of each depthwise convolution (groups equal to its input channels), in the network's order."""
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, torch.nn.Conv2d) and 1 < module.groups == module.in_channels]


def _shape_keeping_depthwise(module: torch.nn.Module) -> bool:
    """A depthwise convolution whose output has its input's shape: stride 1, one output per channel, padding that
    makes up for its kernel (torchvision's students' 3x3 with padding 1, dilation 1)."""
    return (isinstance(module, torch.nn.Conv2d) and 1 < module.groups == module.in_channels == module.out_channels
            and module.stride == (1, 1) and all(2 * pad == dilation * (kernel - 1) for pad, dilation, kernel
                                                in zip(module.padding, module.dilation, module.kernel_size)))


def without_depthwise(model: torch.nn.Module) -> tuple[torch.nn.Module, int]:
    """A copy of the network without its stride-1 depthwise convolutions that sit in an nn.Sequential, each with the
    batch norm and activation that follow it there (so the shapes stay), and how many were removed."""
    ablated, removed = copy.deepcopy(model), 0
    for container in [m for m in ablated.modules() if isinstance(m, torch.nn.Sequential)]:
        children = list(container)
        for index, child in enumerate(children):
            if not _shape_keeping_depthwise(child):
                continue
            removed += 1
            end = index + 1
            while end < len(children) and isinstance(children[end], (torch.nn.BatchNorm2d, *_ACTIVATIONS)):
                end += 1
            for position in range(index, end):
                container[position] = torch.nn.Identity()
    return ablated.eval(), removed


def layer_inputs(model: torch.nn.Module, layers: list[tuple[str, torch.nn.Module]],
                 images: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Per layer, its input for each image, as the whole network's forward gives it."""
    inputs: list[list[torch.Tensor]] = [[] for _ in layers]
    hooks = [module.register_forward_pre_hook(lambda _module, args, i=i: inputs[i].append(args[0].clone()))
             for i, (_, module) in enumerate(layers)]
    try:
        with torch.no_grad():
            for x in images:
                model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return inputs


def stage_runners(module: torch.nn.Module, x: torch.Tensor, calibration: list[torch.Tensor], args,
                  folder: Path) -> tuple[dict, LiteRTPeer | None]:
    """The stage's runners at --precision: the `.pte`, ONNX Runtime and (unless --no-litert) LiteRT's."""
    program = quantize_int8(module, x, calibration) if args.precision == "int8" else module
    (folder / "stage.pte").write_bytes(to_pte(program, x))
    runners = {".pte": LocalRunner(load_artifact(folder / "stage.pte", "executorch"), x)}
    onnx = folder / "stage.onnx"
    export_onnx(module, x, onnx)
    if args.precision == "int8":
        onnx, fp32 = folder / "stage-int8.onnx", onnx
        quantize_onnx(fp32, onnx, calibration)
    runners["onnxruntime"] = ort_runner(onnx, x, args.threads)
    peer = None
    if args.litert_python is not None:
        with torch.no_grad():
            output = module(x)
        peer = LiteRTPeer(args.litert_python, folder, torch.export.export(module, (x,)), x, calibration, output,
                          args.threads)
        runners["litert"] = peer.runners()[f"litert {args.precision}"]
    return runners, peer


def ablation(model: torch.nn.Module, ablated: torch.nn.Module, removed: int, images: list[torch.Tensor],
             args) -> dict:
    """The whole network and the ablated one in every runtime, in the same interleaved rounds; per runtime, the
    removed layers' cost in place (whole minus ablated, per round), and the part of the `.pte`'s gap to the whole
    network's fastest peer that they account for."""
    runners, peers = {}, []
    with tempfile.TemporaryDirectory(prefix="cmx-stage-peers-") as folder:
        try:
            for label, module in (("whole", model), ("ablated", ablated)):
                (Path(folder) / label).mkdir()
                pieces, peer = stage_runners(module, images[0], images, args, Path(folder) / label)
                peers += [peer] if peer is not None else []
                runners.update({(label, runtime): runner for runtime, runner in pieces.items()})
            rounds = interleaved_medians(runners, args.rounds, args.iters, SETTLE_S)
        finally:
            for peer in peers:
                peer.close()
    runtimes = [runtime for label, runtime in rounds if label == "whole"]
    medians = {key: statistics.median(values) for key, values in rounds.items()}
    fastest = min((runtime for runtime in runtimes if runtime != ".pte"), key=lambda r: medians[("whole", r)])
    in_place = {runtime: [w - a for w, a in zip(rounds[("whole", runtime)], rounds[("ablated", runtime)])]
                for runtime in runtimes}
    gaps = {label: [p - f for p, f in zip(rounds[(label, ".pte")], rounds[(label, fastest)])]
            for label in ("whole", "ablated")}
    accounted = [w - a for w, a in zip(gaps["whole"], gaps["ablated"])]
    return {"removed": f"{removed} stride-1 depthwise convolutions", "rounds": args.rounds,
            "whole_ms": {r: round(medians[("whole", r)], 3) for r in runtimes},
            "ablated_ms": {r: round(medians[("ablated", r)], 3) for r in runtimes},
            "in_place_ms": {r: _median_range(values) for r, values in in_place.items()},
            "fastest_peer": fastest, "pte_gap_whole_ms": _median_range(gaps["whole"]),
            "pte_gap_ablated_ms": _median_range(gaps["ablated"]),
            "gap_the_removed_layers_account_for_ms": _median_range(accounted)}


def _median_range(values: list[float]) -> dict:
    """Per-round figures as their median and range (ms)."""
    return {"median": round(statistics.median(values), 3), "range": [round(min(values), 3), round(max(values), 3)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=STUDENTS, default="shufflenet_v2_x1_0")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--litert-venv", type=Path, default=ROOT / ".venv-litert")
    parser.add_argument("--no-litert", action="store_true")
    parser.add_argument("--cut", choices=("stages", "depthwise", "without-depthwise"), default="stages",
                        help="time each stage, each depthwise convolution alone, or the whole network with and "
                             "without its stride-1 depthwise convolutions")
    args = parser.parse_args()
    card = get_card(args.model)
    torch.manual_seed(0)
    model = build_model(card).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    images = generated_inputs(card, CALIBRATION_INPUTS)
    if args.cut == "stages":
        pieces = stages(model)
        piece_inputs = stage_inputs(model, images)
    elif args.cut == "depthwise":
        pieces = depthwise_layers(model)
        piece_inputs = layer_inputs(model, pieces, images)
    else:
        ablated, removed = without_depthwise(model)
        pieces = [("without-depthwise", ablated)] if removed else []
    if not pieces:  # before LiteRT's environment is built
        parser.error(f"{args.model} has no {'stride-1 ' if args.cut != 'depthwise' else ''}depthwise convolutions")
    args.litert_python = None if args.no_litert else ensure_litert_venv(args.litert_venv)
    print(json.dumps({"model": args.model, "precision": args.precision, "cut": args.cut,
                      "threads": set_threads("executorch", args.threads)}), flush=True)
    if args.cut == "without-depthwise":
        print(json.dumps(ablation(model, ablated, removed, images, args)), flush=True)
        return
    totals: dict[str, float] = {}
    for (name, module), inputs in zip(pieces, piece_inputs):
        with tempfile.TemporaryDirectory(prefix="cmx-stage-peers-") as folder:
            runners, peer = stage_runners(module, inputs[0], inputs, args, Path(folder))
            try:
                round_medians = interleaved_medians(runners, args.rounds, args.iters, SETTLE_S)
                medians = {runtime: round(statistics.median(values), 3) for runtime, values in round_medians.items()}
            finally:
                if peer is not None:
                    peer.close()
        fastest = min((runtime for runtime in medians if runtime != ".pte"), key=medians.get)
        for runtime, ms in medians.items():
            totals[runtime] = totals.get(runtime, 0.0) + ms
        print(json.dumps({"stage": name, "input": list(inputs[0].shape), **medians, "fastest_peer": fastest,
                          "pte_minus_fastest_peer_ms": round(medians[".pte"] - medians[fastest], 3)}), flush=True)
    print(json.dumps({"stage": "sum", **{runtime: round(ms, 3) for runtime, ms in totals.items()}}), flush=True)


if __name__ == "__main__":
    main()
