"""ShuffleNetV2's `.pte` with its shuffles planned away against the interleaved form, fp32 and int8, side by side.

Run: python benchmarks/shuffle_plan.py [--threads 2 --rounds 15 --iters 30]
(needs: pip install -e '.[bench]'; run it alone on the machine)

Exports ShuffleNetV2 (random weights, seed 0, 224 px, batch 1) four times with the `cmx` lowering: fp32 and int8,
each with `plan_shuffles` (cmx_bench/export/shuffle_plan.py) and without it (the shuffle as `concat_shuffle` leaves
it), int8 calibrated on the 16 generated inputs `cmx-bench export` uses. Each round times every program in turn
(median of --iters inferences), so that drift of a shared machine hits all of them alike. Prints one JSON line per
program (median of the round medians) and one per precision with the median of the per-round planned /
interleaved ratios (below 1.0: the plan is faster). Operator times: `cmx-bench run --profile`.
This is what the default follows: planned in fp32, interleaved in int8.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from runtimes import CALIBRATION_INPUTS, LocalRunner  # the sibling script: one timing loop for the benchmarks

from cmx_bench.data.preprocess import generated_inputs
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.lowering import WithSoftmax, quantize_int8, to_pte
from cmx_bench.nets.registry import build_model, get_card


def _programs(folder: Path) -> dict[tuple[str, bool], Path]:
    card = get_card("shufflenet_v2_x1_0")
    torch.manual_seed(0)
    model = WithSoftmax(build_model(card)).eval()
    example = torch.zeros(card.input_shape)
    calibration = generated_inputs(card, CALIBRATION_INPUTS)
    paths = {}
    for precision in ("fp32", "int8"):
        for planned in (True, False):
            graph = model if precision == "fp32" else quantize_int8(model, example, calibration, plan=planned)
            path = folder / f"{precision}-{'planned' if planned else 'interleaved'}.pte"
            path.write_bytes(to_pte(graph, example, plan=planned))
            paths[precision, planned] = path
            print(f"exported {path.name}", file=sys.stderr, flush=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cmx-shuffle-plan-") as folder:
        paths = _programs(Path(folder))
        set_threads("executorch", args.threads)
        x = generated_inputs(get_card("shufflenet_v2_x1_0"), 1)[0]
        runners = {key: LocalRunner(load_artifact(path, "executorch"), x) for key, path in paths.items()}
        rounds = {key: [] for key in runners}
        with torch.inference_mode():
            for runner in runners.values():
                runner.time(10)  # warm-up
            for _ in range(args.rounds):
                for key, runner in runners.items():
                    rounds[key].append(statistics.median(runner.time(args.iters)))
    medians = {key: statistics.median(values) for key, values in rounds.items()}
    for (precision, planned), median in medians.items():
        print(json.dumps({"precision": precision, "shuffles": "planned" if planned else "interleaved",
                          "median_ms": round(median, 4), "threads": args.threads}))
    for precision in ("fp32", "int8"):
        # Per round, so that the ratio compares programs timed seconds apart.
        ratios = [p / i for p, i in zip(rounds[precision, True], rounds[precision, False])]
        print(json.dumps({"precision": precision, "planned_over_interleaved": round(statistics.median(ratios), 3),
                          "rounds": args.rounds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
