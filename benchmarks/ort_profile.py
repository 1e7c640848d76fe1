"""Where ONNX Runtime's time goes for one student, by operator type, beside cmx-bench's own `.pte` profile.

Run: python benchmarks/ort_profile.py [--model squeezenet1_1 --precision fp32 --threads 2 --iters 200]
(needs: pip install -e '.[bench]'; run it alone on the machine)

The network (random weights, seed 0, 224 px, batch 1, softmax output) is exported to ONNX as benchmarks/runtimes.py
exports it and run by ONNX Runtime's CPU provider at --threads intra-op threads with its profiler on; the profile's
per-node kernel times are summed by operator type and divided by the iterations. Then the same network's `.pte`
(default `cmx` lowering) is profiled by cmx-bench's host runner path (ETDump), summed by cmx-bench's categories.
Prints one JSON line per runtime: total operator ms per inference and the ms of each operator type or category,
so that where a peer is faster the operators that make the difference can be named. `--precision int8` profiles
ORT's static QDQ int8 (as runtimes.py makes it) against the `.pte` int8, both calibrated on the same 16 generated
inputs: their graphs differ (ORT fuses each DQ-Conv-Q into a QLinearConv), so compare convolution totals.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from runtimes import CALIBRATION_INPUTS, export_onnx, quantize_onnx  # the sibling script: the same ONNX as its peer

from cmx_bench.data.preprocess import generated_inputs
from cmx_bench.export.loaders import native_stderr_silenced, set_threads
from cmx_bench.export.lowering import LoweringReport, WithSoftmax, quantize_int8, to_pte
from cmx_bench.measure.operator_profile import category_totals, operator_rows, read_events
from cmx_bench.nets.registry import build_model, get_card


def ort_by_op_type(model, x: torch.Tensor, folder: Path, threads: int, iters: int, calibration=None
                   ) -> dict[str, float]:
    """ORT's kernel ms per inference by operator type; int8 (static QDQ) when `calibration` is given."""
    import onnxruntime

    path = folder / "model.onnx"
    export_onnx(model, x, path)
    if calibration is not None:
        path, fp32 = folder / "model-int8.onnx", path
        quantize_onnx(fp32, path, calibration)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling, options.profile_file_prefix = True, str(folder / "ort")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    for _ in range(20):  # warm-up, profiled too: dropped below by counting only the last `iters` runs
        session.run(None, feed)
    for _ in range(iters):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    start = runs[-iters]["ts"]  # the timed runs' first microsecond
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= start:
            totals[event["args"]["op_name"]] += event["dur"] / 1e3 / iters
    return dict(totals)


def pte_by_category(model, x: torch.Tensor, folder: Path, iters: int, calibration=None) -> dict[str, float]:
    """The `.pte`'s operator ms per inference by cmx-bench's categories; int8 when `calibration` is given."""
    path = folder / "model.pte"
    graph = model if calibration is None else quantize_int8(model, x, calibration)
    path.write_bytes(to_pte(graph, x, report=LoweringReport()))
    return category_totals(operator_rows(pte_events(path, x, iters)))


def pte_events(path: Path, x: torch.Tensor, iters: int):
    """The ETDump events (read_events' frame) of `iters` inferences of the `.pte` at `path` on `x`."""
    with native_stderr_silenced():
        from executorch.extension.pybindings import portable_lib

        module = portable_lib._load_for_executorch(str(path), enable_etdump=True)
    with torch.inference_mode():
        for _ in range(iters):
            module.forward([x])
    etdump = path.with_suffix(".etdump")
    module.write_etdump_result_to_file(str(etdump))
    return read_events(str(etdump))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="squeezenet1_1")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=200)
    args = parser.parse_args(argv)
    card = get_card(args.model)
    torch.manual_seed(0)
    model = WithSoftmax(build_model(card)).eval()
    x = generated_inputs(card, 1)[0]
    calibration = generated_inputs(card, CALIBRATION_INPUTS) if args.precision == "int8" else None
    set_threads("executorch", args.threads)
    with tempfile.TemporaryDirectory(prefix="cmx-ort-profile-") as name:
        folder = Path(name)
        for runtime, times in ((f"onnxruntime {args.precision}",
                                ort_by_op_type(model, x, folder, args.threads, args.iters, calibration)),
                               (f".pte {args.precision} (cmx)", pte_by_category(model, x, folder, args.iters,
                                                                                calibration))):
            ordered = dict(sorted(((k, round(v, 4)) for k, v in times.items()), key=lambda kv: -kv[1]))
            print(json.dumps({"model": args.model, "runtime": runtime, "threads": args.threads,
                              "operator_ms": round(sum(times.values()), 4), "by_operator": ordered}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
