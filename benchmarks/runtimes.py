"""Side-by-side latency of torch eager, .ptl, .pte fp32, .pte int8 and ONNX Runtime for the three students.

Run: python benchmarks/runtimes.py [--rounds 5 --iters 40]   (needs: pip install -e '.[bench]')

Every runtime of a model is timed in interleaved rounds in one process, on the same pre-processed input,
so that drift of a shared machine hits all of them alike. Prints one JSON line per (model, runtime) and a
Markdown table with each median as a ratio to the fastest runtime of that model.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from cmx_bench.data.preprocess import generated_inputs
from cmx_bench.export.formats import FORMATS
from cmx_bench.export.loaders import load_artifact
from cmx_bench.export.lowering import WithSoftmax
from cmx_bench.export.service import export_artifact
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import STUDENTS, build_model, get_card

CMX_RUNTIMES = ("ptl", "pte", "pte-int8")


def onnx_runner(model, example, folder: Path):
    import onnxruntime

    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["p"], dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x.numpy()})[0]


def time_calls(fn, x, iters: int) -> list[float]:
    samples = []
    for _ in range(iters):
        tic = time.perf_counter_ns()
        fn(x)
        samples.append((time.perf_counter_ns() - tic) / 1e6)
    return samples


def bench_model(name: str, rounds: int, iters: int, folder: Path) -> dict[str, float]:
    card = get_card(name)
    torch.manual_seed(0)
    model = build_model(card)
    eager = WithSoftmax(model).eval()
    x = generated_inputs(card, 1)[0]
    runners = {"torch eager": lambda t: eager(t)}
    for fmt in CMX_RUNTIMES:
        path = folder / f"{name}-{fmt}{FORMATS[fmt].suffix}"
        export_artifact(card, model, random_init_facts(0), FORMATS[fmt], path)
        runners[f".{fmt}" if fmt != "pte-int8" else ".pte int8"] = load_artifact(path, FORMATS[fmt].runtime)
    runners["onnxruntime fp32"] = onnx_runner(eager, x, folder)
    samples = {key: [] for key in runners}
    with torch.inference_mode():
        for fn in runners.values():
            time_calls(fn, x, 5)  # warm-up
        for _ in range(rounds):
            for key, fn in runners.items():
                samples[key] += time_calls(fn, x, iters)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--model", action="append", choices=STUDENTS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("torch").setLevel(logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.model or STUDENTS:
            medians = bench_model(name, args.rounds, args.iters, Path(folder))
            fastest = min(medians.values())
            best_cmx = min(v for k, v in medians.items() if k.startswith("."))
            for runtime, median in medians.items():
                row = {"model": name, "runtime": runtime, "median_ms": round(median, 3),
                       "ratio_to_fastest": round(median / fastest, 2)}
                print(json.dumps(row), flush=True)
                rows.append(row)
            verdict = "meets" if best_cmx <= 1.1 * fastest else "misses"
            print(json.dumps({"model": name, "best_cmx_ratio": round(best_cmx / fastest, 2),
                              "target": "<= 1.1", "verdict": verdict}), flush=True)
    runtimes = list(dict.fromkeys(r["runtime"] for r in rows))
    print("\n| model | " + " | ".join(runtimes) + " |")
    print("|---|" + "---|" * len(runtimes))
    for name in dict.fromkeys(r["model"] for r in rows):
        cells = [f"{r['median_ms']:.2f} ms ({r['ratio_to_fastest']:.2f}x)" for r in rows if r["model"] == name]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
