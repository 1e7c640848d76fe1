"""The students' `.pte`s with their input read in place against the same programs copying it, side by side.

Run: python benchmarks/input_in_place.py [--threads 2 --rounds 9 --iters 100 --model mobilenet_v2 ...]
(needs: pip install -e '.[bench]'; run it alone on the machine)

Exports each student (random weights, seed 0, 224 px, batch 1) with the `cmx` lowering, fp32 and int8 (calibrated on
the 16 generated inputs `cmx-bench export` uses; the passes this machine's target chooses, as `cmx-bench export`
runs them), twice: with the input left out of the memory plan, as the lowering now makes it (ExecuTorch's
`Method::set_input` then shares the caller's tensor), and with ExecuTorch's default plan, which gives the input a
buffer that every call copies it into (602 KB). Each round times every program in turn (median of --iters calls),
in the opposite order every other round, so that drift of a shared machine, and which twin runs first, hit them
alike. Prints one JSON line per program
(median of its round medians, and the activation memory its plan holds) and one per network and precision with the
median and range of the per-round in-place / copied ratios and the median of the per-round differences in ms.
Beside the students, a probe: one 32x32 average pool of the same input, a program that reads its input once and does
next to nothing else, so that its in-place / copied difference is the copy's cost alone, above the noise of a
network's milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from runtimes import LocalRunner, interleaved_medians, student  # the sibling script: one timing loop for them all

from cmx_bench.export.choices import target_default
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.lowering import quantize_int8, to_pte
from cmx_bench.export.program_facts import pte_facts
from cmx_bench.export.targets import host_target

STUDENTS = ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")
PROBE = "input_probe"  # AvgPool2d(32) on a student's input


def _network(name: str) -> tuple[torch.nn.Module, torch.Tensor, list[torch.Tensor]]:
    if name == PROBE:
        _, _, _, x, calibration = student(STUDENTS[0])
        return torch.nn.AvgPool2d(32).eval(), x, calibration
    _, _, network, x, calibration = student(name)
    return network, x, calibration


def _programs(name: str, folder: Path) -> tuple[dict[tuple[str, str, bool], Path], torch.Tensor]:
    network, x, calibration = _network(name)
    choices = target_default(host_target())
    paths = {}
    for precision in ("fp32", "int8"):
        graph = network if precision == "fp32" else quantize_int8(network, x, calibration,
                                                                  plan=choices.planned("int8"))
        for in_place in (True, False):
            path = folder / f"{name}-{precision}-{'in-place' if in_place else 'copied'}.pte"
            path.write_bytes(to_pte(graph, x, plan=choices.planned(precision), skip=choices.skipped(precision),
                                    input_in_place=in_place))
            paths[name, precision, in_place] = path
            print(f"exported {path.name}", file=sys.stderr, flush=True)
    return paths, x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--model", action="append", choices=(*STUDENTS, PROBE), help="default: the probe and all three")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cmx-input-in-place-") as folder:
        set_threads("executorch", args.threads)
        runners, paths = {}, {}
        for name in args.model or (PROBE, *STUDENTS):
            exported, x = _programs(name, Path(folder))
            paths.update(exported)
            runners.update({key: LocalRunner(load_artifact(path, "executorch"), x) for key, path in exported.items()})
        rounds = {key: [] for key in runners}
        for index in range(args.rounds):
            order = runners if index % 2 == 0 else dict(reversed(runners.items()))
            for key, [median] in interleaved_medians(order, 1, args.iters).items():
                rounds[key].append(median)
        plan_bytes = {key: pte_facts(path)["planned_activation_bytes"] for key, path in paths.items()}
    for (name, precision, in_place), medians in rounds.items():
        print(json.dumps({"model": name, "precision": precision, "input": "in place" if in_place else "copied",
                          "median_ms": round(statistics.median(medians), 4),
                          "planned_activation_bytes": plan_bytes[name, precision, in_place],
                          "threads": args.threads}))
    for name, precision, reads_in_place in rounds:
        if not reads_in_place:
            continue
        in_place, copied = rounds[name, precision, True], rounds[name, precision, False]
        # Per round, so that each ratio compares programs timed seconds apart.
        ratios = [a / b for a, b in zip(in_place, copied)]
        print(json.dumps({"model": name, "precision": precision,
                          "in_place_over_copied": round(statistics.median(ratios), 3),
                          "range": [round(min(ratios), 3), round(max(ratios), 3)],
                          "saved_ms": round(statistics.median([b - a for a, b in zip(in_place, copied)]), 4),
                          "rounds": args.rounds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
