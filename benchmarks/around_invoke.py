"""What ExecuTorch and LiteRT do around XNNPACK's invoke on every call: the same network's call beside its invoke.

Run: python benchmarks/around_invoke.py [--model M ...] [--rounds 3] [--iters 300] [--threads 2]
     [--litert-venv .venv-litert]
     (Linux only: perf with uprobes, which needs root; LiteRT's environment as runtimes.py builds it; about two
     minutes per student; run it alone on the machine)

Both runtimes run the network's operators as one XNNPACK runtime, so a gap between them is in the operators' kernels
or in what the runtime does around them. Per student and precision, this exports cmx-bench's `.pte` (cmx lowering)
and has LiteRT's peer (benchmarks/litert_peer.py) convert the same network to `.tflite`, as runtimes.py does, then
starts each program in a child process of its own environment (ExecuTorch's Python runtime; ai-edge-litert's
interpreter, input set and output read in each call as runtimes.py times it) and, in --rounds interleaved rounds, times
--iters calls of each while `perf record` takes uprobes at the entry and return of XNNPACK's xnn_invoke_runtime in
that runtime's library, then --iters more with uprobes on xnn_reshape_runtime and xnn_setup_runtime_v2 too. Per
program it prints the median call (timed in Python) and invoke of the first calls (all of a call's invokes, where
the runtime cut the network into several XNNPACK partitions), `around`, the median of call - invoke call by call, and, from the second calls, how many reshapes and setups a call runs and their medians; per
student and precision, ExecuTorch over LiteRT of calls and of invokes. A recorded uprobe costs its call a trap at
each entry and return (a few microseconds: benchmarks/timer_rounding.py measures a pair), the same in both runtimes
in the first calls; runtimes.py gives the calls' ratios with no probe at all.
LiteRT's int8 model takes int8 input, quantised once outside the calls (runtimes.py does the same); the `.pte`
quantises its float input inside the invoke.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

import uprobes
from runtimes import ROOT, LiteRTPeer, ensure_litert_venv, export_cmx, host_cpu, student

PROBED = ("xnn_invoke_runtime", "xnn_reshape_runtime", "xnn_setup_runtime_v2")
GROUP = "cmx_around"

CHILD = r"""
import json, sys, time
import numpy as np
kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "executorch":
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime
    portable_lib._unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(path).load_method("forward")
    x = torch.load(sys.argv[4], weights_only=True)["example"]
    call = lambda: method.execute([x])
else:
    import torch
    sys.path.insert(0, "benchmarks")
    from litert_peer import interpreter
    call, _ = interpreter(path, threads, torch.load(sys.argv[4], weights_only=True)["example"].numpy())
for _ in range(20):
    call()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    samples = []
    for _ in range(int(line)):
        tic = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - tic) / 1e6)
    print(json.dumps(samples), flush=True)
"""


def libraries(litert_python: Path) -> dict[str, Path]:
    """The library that holds each runtime's XNNPACK."""
    site = litert_python.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    return {"executorch": uprobes.executorch_backend_library(),
            "litert": site / "ai_edge_litert" / "libpywrap_litert_common.so"}


class Program:
    """One program in a child process of its runtime's environment, timed on request under the uprobes."""

    def __init__(self, runtime: str, python: Path, path: Path, inputs: Path, threads: int):
        self.runtime = runtime
        self.process = subprocess.Popen([str(python), "-c", CHILD, runtime, str(path), str(threads), str(inputs)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, cwd=ROOT)
        if self.process.stdout.readline().strip() != "ready":
            sys.exit(f"the {runtime} program {path.name} did not start")

    def calls(self, iters: int) -> list[float]:
        """`iters` calls' latencies (ms), timed in the child."""
        self.process.stdin.write(f"{iters}\n"), self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the {self.runtime} program stopped while it ran")
        return json.loads(line)

    def probed_calls(self, iters: int, events: list[str], perf_data: Path) -> dict[str, list[float]]:
        """`iters` calls under the uprobes that the globs `events` name: their latencies and each probed function's
        durations (keyed without the runtime's prefix), in ms."""
        perf = uprobes.record(GROUP, events, self.process.pid, perf_data)
        try:
            calls = self.calls(iters)
        finally:
            uprobes.stop(perf)
        found = uprobes.durations(perf_data)
        return {"call": calls, **{name.removeprefix(f"{self.runtime}_"): values for name, values in found.items()}}

    def round(self, iters: int, perf_data: Path) -> dict[str, list[float]]:
        """`iters` calls with the invoke's probes alone, the same in both runtimes, so that their traps weigh alike
        on call - invoke; then `iters` with the reshape's and setup's too, for their counts and durations."""
        timed = self.probed_calls(iters, [f"{self.runtime}_invoke*"], perf_data)  # entry and return
        every = self.probed_calls(iters, [f"{self.runtime}_*"], perf_data)
        return {"call": timed["call"], "invoke": timed.get("invoke", []), "reshape": every.get("reshape", []),
                "setup": every.get("setup", []), "every_call": every["call"]}

    def close(self) -> None:
        try:
            self.process.communicate("quit\n", timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def summary(model: str, precision: str, runtime: str, rounds: list[dict]) -> dict:
    """The medians of a program's rounds; around = call - invoke, call by call."""
    pooled = {key: [ms for probed in rounds for ms in probed.get(key, [])]
              for key in ("call", "invoke", "reshape", "setup", "every_call")}
    calls, per_call = pooled["call"], len(pooled["invoke"]) // max(len(pooled["call"]), 1)
    if not per_call or len(pooled["invoke"]) != per_call * len(calls):
        sys.exit(f"perf saw {len(pooled['invoke'])} invokes in {len(calls)} calls of {model} {precision} "
                 f"{runtime}: run it again, alone on the machine")
    # A program the runtime cut into several XNNPACK partitions invokes one runtime per partition, in turn.
    invokes = [sum(pooled["invoke"][index * per_call:(index + 1) * per_call]) for index in range(len(calls))]
    row = {"model": model, "precision": precision, "runtime": runtime, "calls": len(calls),
           "invokes_per_call": per_call, "call_ms": round(statistics.median(calls), 4),
           "invoke_ms": round(statistics.median(invokes), 4),
           "around_ms": round(statistics.median(c - i for c, i in zip(calls, invokes)), 4)}
    for key in ("reshape", "setup"):
        row[f"{key}_per_call"] = round(len(pooled[key]) / len(pooled["every_call"]), 2)
        row[f"{key}_ms"] = round(statistics.median(pooled[key]), 4) if pooled[key] else 0.0
    return row


def bench_model(name: str, args, folder: Path) -> list[dict]:
    card, model, eager, x, calibration = student(name)
    with torch.inference_mode():
        reference = eager(x)
    peer = LiteRTPeer(args.litert_python, folder, torch.export.export(eager, (x,)), x, calibration, reference,
                      args.threads)
    tflite = {precision: Path(path) for precision, path in peer.facts["files"].items()}
    peer.close()
    rows = []
    for precision, fmt in (("fp32", "pte"), ("int8", "pte-int8")):
        programs = {"executorch": Program("executorch", Path(sys.executable), export_cmx(card, model, calibration,
                                                                                          folder, fmt),
                                          folder / "inputs.pt", args.threads),
                    "litert": Program("litert", args.litert_python, tflite[precision], folder / "inputs.pt",
                                      args.threads)}
        probed = {runtime: [] for runtime in programs}
        for round_index in range(args.rounds):
            order = list(programs) if round_index % 2 == 0 else list(reversed(programs))
            for runtime in order:
                probed[runtime].append(programs[runtime].round(args.iters, folder / "probes.data"))
        for program in programs.values():
            program.close()
        pair = {runtime: summary(name, precision, runtime, rounds) for runtime, rounds in probed.items()}
        for row in pair.values():
            print(json.dumps(row), flush=True)
        ratio = {"model": name, "precision": precision,
                 "call_executorch_over_litert": round(pair["executorch"]["call_ms"] / pair["litert"]["call_ms"], 3),
                 "invoke_executorch_over_litert": round(pair["executorch"]["invoke_ms"] / pair["litert"]["invoke_ms"],
                                                        3)}
        print(json.dumps(ratio), flush=True)
        rows += [{**row, **ratio} for row in pair.values()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--litert-venv", type=Path, default=ROOT / ".venv-litert")
    args = parser.parse_args()
    args.litert_python = ensure_litert_venv(args.litert_venv)
    print(json.dumps({"threads": args.threads, **host_cpu()}), flush=True)
    from cmx_bench.nets.registry import STUDENTS

    uprobes.remove_probes(GROUP)
    rows = []
    try:
        for runtime, library in libraries(args.litert_python).items():
            uprobes.add_probes(GROUP, library, {f"{runtime}_{function.split('_')[1]}": function
                                                for function in PROBED})
        for name in args.model or STUDENTS:
            with tempfile.TemporaryDirectory(prefix="cmx-around-") as folder:
                rows += bench_model(name, args, Path(folder))
    finally:
        uprobes.remove_probes(GROUP)
    print("\n| Model | Precision | Runtime | Call ms | Invoke ms | Around ms | Invokes, reshapes, setups per call | "
          "Reshape ms | Setup ms | ExecuTorch / LiteRT: call, invoke |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['precision']} | {r['runtime']} | {r['call_ms']:.3f} | {r['invoke_ms']:.3f} | "
              f"{r['around_ms']:.3f} | {r['invokes_per_call']}, {r['reshape_per_call']:g}, {r['setup_per_call']:g} | "
              f"{r['reshape_ms']:.3f} | {r['setup_ms']:.3f} | {r['call_executorch_over_litert']:.2f}, "
              f"{r['invoke_executorch_over_litert']:.2f} |")


if __name__ == "__main__":
    main()
