"""How much ONNX Runtime's still-spinning workers slow the next runtime after each length of rest (runtimes.SETTLE_S).

Run: python benchmarks/runtime_rest.py [--threads 2 --rounds 12 --iters 40 --rest 0 0.02 0.1 0.3]
(needs: pip install -e '.[bench]'; run it alone on the machine)

ONNX Runtime's intra-op workers spin for a while after an inference before they sleep. A runtime timed right after it
shares the cores with them. This script exports ShuffleNetV2's `.pte` int8 (random weights, seed 0, the 16 generated
calibration inputs) and ONNX Runtime's static int8 of the same network, then, per round, times --iters inferences of
the `.pte`: alone (after 0.3 s with nothing running) and after --iters of ONNX Runtime's followed by each --rest
(seconds). Prints one JSON line per condition (median of the round medians, ms) with its ratio to "alone".
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from runtimes import (LocalRunner, export_onnx, ort_runner, quantize_onnx,  # the sibling script: its runners
                      student)

from cmx_bench.export.formats import FORMATS
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.service import export_artifact
from cmx_bench.nets.checkpoint import random_init_facts

# Rest before the "alone" turn: longer than any --rest by default, so that ONNX Runtime's workers are asleep.
ALONE_REST_S = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--rest", type=float, nargs="+", default=[0.0, 0.02, 0.1, 0.3])
    args = parser.parse_args()
    if min(args.threads, args.rounds, args.iters) < 1 or min(args.rest) < 0:
        parser.error("--threads, --rounds and --iters must be at least 1, --rest at least 0")
    torch.set_num_threads(args.threads)
    set_threads("executorch", args.threads)
    card, model, eager, x, calibration = student("shufflenet_v2_x1_0")
    with tempfile.TemporaryDirectory(prefix="cmx-rest-") as name:
        folder = Path(name)
        pte = folder / "shufflenet_v2_x1_0.pte"
        export_artifact(card, model, random_init_facts(0), FORMATS["pte-int8"], pte, calibration=calibration)
        program = LocalRunner(load_artifact(pte, "executorch"), x)
        export_onnx(eager, x, folder / "model.onnx")
        quantize_onnx(folder / "model.onnx", folder / "model-int8.onnx", calibration)
        onnx = ort_runner(folder / "model-int8.onnx", x, args.threads)
        medians: dict[str, list[float]] = {"alone": []}
        medians.update({f"after onnxruntime, {rest} s rest": [] for rest in args.rest})
        with torch.inference_mode():
            program.time(20)
            onnx.time(20)
            for _ in range(args.rounds):
                time.sleep(ALONE_REST_S)
                medians["alone"].append(statistics.median(program.time(args.iters)))
                for rest in args.rest:
                    onnx.time(args.iters)
                    time.sleep(rest)
                    medians[f"after onnxruntime, {rest} s rest"].append(statistics.median(program.time(args.iters)))
    alone = statistics.median(medians["alone"])
    for condition, values in medians.items():
        median = statistics.median(values)
        print(json.dumps({"program": ".pte int8 shufflenet_v2_x1_0", "condition": condition, "threads": args.threads,
                          "median_ms": round(median, 3), "over_alone": round(median / alone, 3),
                          "round_medians_ms": [round(v, 3) for v in values]}), flush=True)


if __name__ == "__main__":
    main()
