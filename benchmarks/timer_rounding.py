"""What a profile's delegate call spends beyond its operators: XNNPACK's whole-microsecond timers, the profile's own
recording, and the call's setup, each timed on its own.

Run: python benchmarks/timer_rounding.py [--model M ...] [--iters 300] [--threads 2]
     (Linux only: perf with uprobes, which needs root; about 15 s per program; run it alone on the machine)

cmx-bench's operator profile takes each operator's time from the ETDump, where ExecuTorch's XNNPACK delegate puts
what XNNPACK reports: whole microseconds, rounded down (consecutive end timestamps, so the operators tile the
invoke). The time a delegate call takes beyond its operators' events is the profile's "delegate call overhead" row.
For each student in .pte fp32 and int8 (the cmx lowering for this host, from the artifact cache), this script runs
the program with ETDump on in a child process while `perf record` takes uprobes at the entry and return of
xnn_invoke_runtime, XNNExecutor::prepare_args, xnn_setup_runtime_v2 and XNNProfiler::end (which reads the timers
and writes one ETDump event per operator) in ExecuTorch's XNNPACK backend library, then matches the last --iters
calls one to one with the ETDump's last --iters delegate calls. Per call:
- rounding = invoke - sum of the call's operator times: what the timers round away (printed per call and per
  operator: about 0.5 us per operator is what rounding down durations that vary by a microsecond or more gives);
- recording = XNNProfiler::end, prepare = XNNExecutor::prepare_args (reshapes the runtime every call), setup =
  xnn_setup_runtime_v2;
- rest = the ETDump's delegate call - the four above.
A uprobe pair costs time too: the median of a probed xnn_get_runtime_profiling_info (a short loop over the
operators' timestamps, called once per call inside XNNProfiler::end) is taken as its cost and subtracted from each
probed duration (twice from recording, which holds that call). Medians over the calls. Beside them, the two rows
cmx-bench's profile makes of the same ETDump (measure/operator_profile.py): its rounding estimate (0.5 us per
operator) and the delegate call overhead left after it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import uprobes

# The functions timed, by their exported (mangled) names in libexecutorch_backend_xnnpack.so.
PROBED = {
    "invoke": "xnn_invoke_runtime",
    "prepare": "_ZN10executorch8backends7xnnpack8delegate11XNNExecutor12prepare_argsENS_7runtime4SpanIPNS4_6EValueEEE",
    "setup": "xnn_setup_runtime_v2",
    "recording": "_ZN10executorch8backends7xnnpack8delegate9profiling11XNNProfiler3endEv",
    "probe_cost": "xnn_get_runtime_profiling_info",
}
GROUP = "cmx_rounding"

CHILD = r"""
import sys, torch
from executorch.extension.pybindings import portable_lib
from cmx_bench.export.loaders import set_threads
set_threads("executorch", int(sys.argv[3]))
module = portable_lib._load_for_executorch(sys.argv[1], enable_etdump=True)
x = torch.randn(1, 3, 224, 224)
for _ in range(20):
    module.forward([x])
print("ready", flush=True); sys.stdin.readline()
for _ in range(int(sys.argv[4])):
    module.forward([x])
print("done", flush=True); sys.stdin.readline()
module.write_etdump_result_to_file(sys.argv[2])
"""


def exported_addresses(library: Path) -> dict[str, str]:
    """Each probed function's address in the library (perf probe takes C++ names by address, not by name)."""
    exported = {}
    for line in subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        address, _, name = line.split(maxsplit=2)
        exported[name] = f"0x{address}"
    missing = [name for name in PROBED.values() if name not in exported]
    if missing:
        sys.exit(f"{library.name} exports none of {', '.join(missing)}: this ExecuTorch build cannot be probed here")
    return {key: exported[name] for key, name in PROBED.items()}


def decompose(artifact: Path, iters: int, threads: int, folder: Path) -> dict:
    """Run `artifact` with ETDump on under the probes; the medians of the delegate call's parts."""
    import numpy as np

    from cmx_bench.measure.operator_profile import TIMER_ROUNDING, operator_rows, read_events

    etdump, perf_data = folder / "probed.etdump", folder / "probes.data"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(artifact), str(etdump), str(threads), str(iters)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if child.stdout.readline().strip() != "ready":
        sys.exit(f"{artifact.name} did not load and run in a child process: run it with cmx-bench to see why")
    perf = uprobes.record(GROUP, ["*"], child.pid, perf_data)
    try:
        child.stdin.write("go\n"), child.stdin.flush()
        finished = child.stdout.readline().strip() == "done"
    finally:
        uprobes.stop(perf)
    if not finished:
        sys.exit(f"{artifact.name} stopped while it ran under the probes")
    child.stdin.write("write\n"), child.stdin.flush()
    child.wait()

    events = read_events(str(etdump))
    frame = events[events.event_block_name == "Execute"]
    delegate_calls = frame[frame.event_name == "DELEGATE_CALL"]
    if len(delegate_calls) != 1:
        sys.exit(f"{artifact.name} runs {len(delegate_calls)} delegate calls: this script takes one-partition programs")
    operators = frame[frame.is_delegated_op.astype(bool)]
    per_call_ops = np.array([list(raw)[-iters:] for raw in operators.raw]).sum(axis=0)
    calls = np.array(list(delegate_calls.raw.iloc[0])[-iters:])
    found = uprobes.durations(perf_data)
    counts = {key: len(found.get(key, [])) for key in ("invoke", "prepare", "setup", "recording")}
    if set(counts.values()) != {iters} or len(per_call_ops) != iters:
        sys.exit(f"perf saw {counts} calls of the probed functions in {iters} inferences: run it again, alone on the "
                 "machine")
    probed = {key: np.array(values[-iters:]) for key, values in found.items()}
    cost = float(np.median(probed["probe_cost"]))
    invoke, prepare, setup = probed["invoke"] - cost, probed["prepare"] - cost, probed["setup"] - cost
    recording = probed["recording"] - 2 * cost
    rounding = invoke - per_call_ops
    profile = {row.category: row.median_ms for row in operator_rows(events)
               if row.category in (TIMER_ROUNDING, "runtime overhead")}
    median = lambda values: round(float(np.median(values)), 4)  # noqa: E731
    return {"operators": len(operators), "call_ms": median(calls), "operator_sum_ms": median(per_call_ops),
            "profile_rounding_ms": round(profile[TIMER_ROUNDING], 4),
            "profile_overhead_ms": round(profile["runtime overhead"], 4), "rounding_ms": median(rounding),
            "rounding_us_per_operator": round(1e3 * float(np.median(rounding)) / len(operators), 3),
            "recording_ms": median(recording), "prepare_ms": median(prepare), "setup_ms": median(setup),
            "rest_ms": median(calls - invoke - prepare - setup - recording), "probe_pair_ms": round(cost, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="default: the three students")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from cmx_bench.export.formats import FORMATS
    from cmx_bench.export.service import cached_artifact
    from cmx_bench.nets.checkpoint import random_init_facts
    from cmx_bench.nets.registry import STUDENTS, build_model, get_card

    library = uprobes.executorch_backend_library()
    uprobes.remove_probes(GROUP)
    rows = []
    try:
        uprobes.add_probes(GROUP, library, exported_addresses(library))
        with tempfile.TemporaryDirectory(prefix="cmx-rounding-") as folder:
            for name in args.model or STUDENTS:
                card = get_card(name)
                for fmt in ("pte", "pte-int8"):
                    torch.manual_seed(0)
                    artifact = cached_artifact(card, build_model(card), random_init_facts(0), FORMATS[fmt])
                    row = {"model": name, "format": fmt, **decompose(artifact, args.iters, args.threads, Path(folder))}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    finally:
        uprobes.remove_probes(GROUP)
    print("\n| Model | Format | Operators | Delegate call ms | Rounding ms (us/operator) | Recording ms | Prepare ms | "
          "Setup ms | Rest ms | Profile: rounding, overhead ms |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['format']} | {r['operators']} | {r['call_ms']:.3f} | {r['rounding_ms']:.3f} "
              f"({r['rounding_us_per_operator']:.2f}) | {r['recording_ms']:.3f} | {r['prepare_ms']:.3f} | "
              f"{r['setup_ms']:.3f} | {r['rest_ms']:.3f} | {r['profile_rounding_ms']:.3f}, "
              f"{r['profile_overhead_ms']:.3f} |")
    per_operator = [r["rounding_us_per_operator"] for r in rows]
    print(f"\nrounding per operator: median {statistics.median(per_operator):.2f} us, "
          f"{min(per_operator):.2f}-{max(per_operator):.2f} us over {len(rows)} programs")


if __name__ == "__main__":
    main()
