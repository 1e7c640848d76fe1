"""The LiteRT peer of benchmarks/runtimes.py: converts one exported network to .tflite and times it on request.

It runs in its own virtual environment (litert-torch pulls jax, transformers and its own torchao, which cmx-bench's
environment does not share), started by runtimes.py, never by hand:

    VENV/bin/python benchmarks/litert_peer.py FOLDER --threads N

FOLDER holds what runtimes.py wrote: program.pt2 (torch.export of the network with its softmax, saved by the same
torch release) and inputs.pt (the timed input, the calibration tensors cmx-bench's int8 used, the eager output).
The peer converts fp32 with litert-torch and int8 with litert-torch's own pt2e quantiser (static, per channel,
calibrated on those tensors), loads both in ai-edge-litert's interpreter (XNNPACK, N threads), and prints one JSON
line: the files, their sizes, the releases, each graph's operator counts and each one's max |difference| from the
eager probabilities. Then it answers lines
"NAME ITERS" on stdin with a JSON list of ITERS latencies in ms, until "quit" or end of input, so that runtimes.py
can interleave it with the runtimes it times itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path


def convert(folder: Path, calibration: list, example) -> dict[str, Path]:
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    program = torch.export.load(str(folder / "program.pt2"))
    paths = {"fp32": folder / "model-fp32.tflite", "int8": folder / "model-int8.tflite"}
    litert_torch.convert(program.module(), (example,)).export(str(paths["fp32"]))
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    prepared = quantize_pt2e.prepare_pt2e(torch.export.load(str(folder / "program.pt2")).module(), quantizer)
    with torch.no_grad():
        for tensor in calibration:
            prepared(tensor)
    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    litert_torch.convert(quantized, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(
        str(paths["int8"]))
    return paths


def interpreter(path: Path, threads: int, x):
    """f() -> float probabilities of `x`, and the input the interpreter is called on. A quantised model's input
    and output are int8 (litert-torch folds the graph's first quantize and last dequantize into them): its input is
    quantised once here, outside the timed call, which favours LiteRT by that one quantisation against cmx-bench's
    .pte int8, whose program quantises its float input itself."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    # The default op resolver applies LiteRT's XNNPACK delegate, float and quantised.
    runner = Interpreter(model_path=str(path), num_threads=threads)
    runner.allocate_tensors()
    source, result = runner.get_input_details()[0], runner.get_output_details()[0]
    if np.issubdtype(source["dtype"], np.integer):
        scale, zero = source["quantization"]
        info = np.iinfo(source["dtype"])
        x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(source["dtype"])

    def call():
        runner.set_tensor(source["index"], x)
        runner.invoke()
        return runner.get_tensor(result["index"])

    def probabilities():
        out = call().astype(np.float32)
        if np.issubdtype(result["dtype"], np.integer):
            scale, zero = result["quantization"]
            out = (out - zero) * scale
        return out
    return call, probabilities


def operator_counts(path: Path) -> dict[str, int]:
    """How many of each LiteRT operator the model's graph holds (read from its flatbuffer)."""
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    graph, counts = model.Subgraphs(0), {}
    for index in range(graph.OperatorsLength()):
        code = codes[graph.Operators(index).OpcodeIndex()]
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    # The converter and the interpreter print to stdout (some from native code): the answers get their own copy of
    # it, and everything else goes to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import torch

    inputs = torch.load(str(args.folder / "inputs.pt"), weights_only=True)
    example = inputs["example"]
    paths = convert(args.folder, inputs["calibration"], example)
    runners = {name: interpreter(path, args.threads, example.numpy()) for name, path in paths.items()}
    eager = inputs["eager_output"].numpy()
    from importlib.metadata import version

    print(json.dumps({"ready": True, "threads": args.threads, "files": {k: str(p) for k, p in paths.items()},
                      "versions": {name: version(name) for name in ("litert-torch", "ai-edge-litert", "torch")},
                      "operators": {k: operator_counts(p) for k, p in paths.items()},
                      "bytes": {k: p.stat().st_size for k, p in paths.items()},
                      "max_abs_diff": {k: float(np.abs(probabilities() - eager).max()) for k, (_, probabilities) in runners.items()}}),
          file=answers, flush=True)
    for line in sys.stdin:
        if line.strip() in ("", "quit"):
            break
        name, iters = line.split()
        (call, _), samples = runners[name], []
        for _ in range(int(iters)):
            tic = time.perf_counter_ns()
            call()
            samples.append((time.perf_counter_ns() - tic) / 1e6)
        print(json.dumps(samples), file=answers, flush=True)


if __name__ == "__main__":
    main()
