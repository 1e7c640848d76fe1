"""Which instruction sets each runtime's native code holds, and which its inferences run on this host (Linux perf).

Run: python benchmarks/kernel_isa.py [--model squeezenet1_1 --precision int8 --threads 2 --seconds 6 --rounds 3
     --litert-venv DIR --no-litert]
(needs: pip install -e '.[bench]'; Linux `perf`, `objdump` and `readelf` (apt install linux-perf binutils), perf
allowed to record this user's processes; run it alone on the machine)

A peer that leads cmx-bench's `.pte` on a development host may lead with instructions that no phone has. For the
student at --precision, built as benchmarks/runtimes.py builds it (the `.pte` with the default `cmx` lowering, ONNX
Runtime, LiteRT in its own venv; random weights, seed 0), this prints one JSON line per runtime:
- `library`: per native library of the runtime, how many AMX tile instructions (tdpb*, tileloadd*) and VNNI dot
  products (vpdpbusd, vpdpbssd, ...) objdump finds in it: what it can run at all;
- `ms`: the median of its inferences while perf recorded (--seconds of them in all, after a warm-up, at --threads,
  in --rounds interleaved rounds: each round records every runtime in turn, after 0.2 s of rest);
- `samples_by_isa`: of perf's samples of the runtime's process (all its threads, 2 kHz of CPU time each), the
  share (%) in code of each instruction set. A sample in a named kernel takes the instruction set from the name
  (XNNPACK names its kernels for theirs: `xnn_qs8_qc8w_igemm_minmax_fp32_ukernel_16x64c4__avx512amx`); a sample in
  a library without symbols from the richest instructions of the function that holds it (its bounds from the
  library's unwind table; amx, avx512-vnni, avx-vnni, avx512, avx2, other); samples outside the runtime's
  libraries (Python's loop, the kernel, libc) count as `outside`;
- `cpu_ms_per_inference`: the CPU time perf sampled (all threads) over the inferences, and `cpu_ms_by_isa`, its
  split by the shares above: at 2 threads about twice the latency where both threads compute, and a runtime's
  spinning workers count;
- `hottest`: the ten hottest symbols (or, without symbols, functions by start address), their share and
  instruction set.
Then a Markdown table of the CPU ms per inference by instruction set.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import warnings
from functools import lru_cache
from pathlib import Path

import torch
from runtimes import (ROOT, SETTLE_S, LiteRTPeer, LocalRunner, ensure_litert_venv, export_onnx, host_cpu,
                      ort_runner, quantize_onnx, student)

from cmx_bench.export.formats import FORMATS
from cmx_bench.export.loaders import load_artifact, set_threads
from cmx_bench.export.service import export_artifact
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import STUDENTS

ISAS = ("amx", "avx512-vnni", "avx-vnni", "avx512", "avx2", "other", "outside")
_AMX = re.compile(r"^(tdpb\w+|tdpbf16ps|tdpfp16ps|tileloadd\w*)$")
_VNNI = re.compile(r"^(\{vex\} )?vpdpb[su][su]ds?$|^vpdpwssds?$")
# objdump -d --no-show-raw-insn: "  1f260c:\tvpdpbusd %zmm1,%zmm2,%zmm3"
# readelf --debug-dump=frames: "... FDE cie=00000000 pc=00000000001f22b0..00000000001f2ada"
_FDE = re.compile(r"FDE cie=\w+ pc=([0-9a-f]+)\.\.([0-9a-f]+)")
_INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+((?:\{vex\} )?[a-z][a-z0-9]*)\s*(.*)$")
# perf report -v --sort dso,sym -F period,dso,sym: "  1003000000  /path/lib.so  0x1f260c  B [.] symbol-or-address"
_REPORT_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+0x([0-9a-f]+)\s+\S\s+\[(.)\]\s+(.*?)\s*$")
# XNNPACK's kernel names end in the instruction set they are written for: "__avx512amx", "__avx512vnni_prfm"
# (first match wins; sse4.1, scalar and the like count as "other").
_NAMED_ISA = (("amx", "amx"), ("avx512vnni", "avx512-vnni"), ("avxvnni", "avx-vnni"), ("avx512", "avx512"),
              ("avx2", "avx2"))


def runtime_libraries(runtime: str, litert_python: Path | None) -> list[Path]:
    """The native libraries whose code counts as the runtime's."""
    if runtime == ".pte":
        import executorch
        return sorted(Path(executorch.__path__[0], "lib").glob("*.so"))
    if runtime == "onnxruntime":
        import onnxruntime
        return sorted(Path(onnxruntime.__path__[0], "capi").glob("*.so*"))
    site = next((litert_python.parent.parent / "lib").glob("python3*/site-packages"))
    return sorted(path for path in (site / "ai_edge_litert").glob("*.so") if path.stat().st_size > 1_000_000)


@lru_cache(maxsize=None)
def disassembly(library: str) -> tuple[list[int], list[tuple[str, str]]]:
    """Addresses (sorted) and (mnemonic, operands) of every instruction objdump decodes in the library."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library], check=True, capture_output=True,
                          text=True).stdout
    addresses, instructions = [], []
    for line in text.splitlines():
        match = _INSTRUCTION.match(line)
        if match:
            addresses.append(int(match.group(1), 16))
            instructions.append((match.group(2), match.group(3)))
    return addresses, instructions


def instruction_counts(library: Path) -> dict[str, int]:
    """How many AMX tile and VNNI dot-product instructions the library's code holds."""
    _, instructions = disassembly(str(library))
    return {"amx": sum(1 for mnemonic, _ in instructions if _AMX.match(mnemonic)),
            "vnni": sum(1 for mnemonic, _ in instructions if _VNNI.match(mnemonic))}


@lru_cache(maxsize=None)
def functions(library: str) -> list[tuple[int, int]]:
    """(start, end) of every function the library's unwind table (.eh_frame) describes, sorted: a stripped
    library's function bounds."""
    text = subprocess.run(["readelf", "--debug-dump=frames", library], check=True, capture_output=True,
                          text=True).stdout
    return sorted((int(start, 16), int(end, 16)) for start, end in _FDE.findall(text))


def function_at(library: str, address: int) -> tuple[int, int]:
    """The function holding `address`; where the unwind table has none, the 512 bytes around it."""
    ranges = functions(library)
    index = bisect.bisect_right(ranges, (address, float("inf"))) - 1
    if index >= 0 and ranges[index][0] <= address < ranges[index][1]:
        return ranges[index]
    return address - 256, address + 256


@lru_cache(maxsize=None)
def isa_of_code(library: str, start: int, end: int) -> str:
    """The richest instruction set among the instructions from `start` to `end`: a kernel that holds one AMX tile
    product is an AMX kernel, its loads and stores included."""
    addresses, instructions = disassembly(library)
    code = instructions[bisect.bisect_left(addresses, start):bisect.bisect_left(addresses, end)]
    if any(_AMX.match(mnemonic) for mnemonic, _ in code):
        return "amx"
    vnni = [operands for mnemonic, operands in code if _VNNI.match(mnemonic)]
    if vnni:
        return "avx512-vnni" if any("zmm" in operands for operands in vnni) else "avx-vnni"
    if any("zmm" in operands for _, operands in code):
        return "avx512"
    return "avx2" if any("ymm" in operands for _, operands in code) else "other"


def isa_of_symbol(symbol: str, library: str, address: int) -> str:
    """From an XNNPACK kernel's name where it has one ("..._16x64c4__avx512amx": amx), else from its code."""
    tag = symbol.rpartition("__")[2] if "_ukernel_" in symbol else ""
    for marker, isa in _NAMED_ISA:
        if marker in tag:
            return isa
    return "other" if tag else isa_of_code(library, *function_at(library, address))


def recorded(pid: int, output: Path, work) -> list[float]:
    """Latencies of `work()` while perf records every thread of process `pid` into `output`."""
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "2000", "-p", str(pid), "-o", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # perf attaches to the threads first
    if perf.poll() is not None:
        raise SystemExit(f"perf record could not attach ({perf.stderr.read().strip()[:200]}); check "
                         "/proc/sys/kernel/perf_event_paranoid (at most 2 for your own processes)")
    try:
        samples = work()
    finally:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    return samples


def sampled(data: Path, libraries: list[Path]) -> dict[tuple[str, str], dict]:
    """CPU ms perf's samples stand for per place (library, symbol; a stripped library's addresses gathered by
    function), each with its instruction set (cpu-clock periods are nanoseconds)."""
    report = subprocess.run(["perf", "report", "-i", str(data), "-v", "--no-children", "--sort", "dso,sym",
                             "--stdio", "-F", "period,dso,sym"], check=True, capture_output=True, text=True).stdout
    own = {path.resolve() for path in libraries}
    places: dict[tuple[str, str], dict] = {}
    for line in report.splitlines():
        match = _REPORT_LINE.match(line)
        if not match:
            continue
        period, library, address, symbol = int(match.group(1)), match.group(2), int(match.group(3), 16), match.group(5)
        isa = isa_of_symbol(symbol, library, address) if Path(library).resolve() in own else "outside"
        if symbol.startswith("0x") and isa != "outside":  # perf lists a stripped library's addresses one by one
            symbol = f"function at 0x{function_at(library, address)[0]:x}"
        place = places.setdefault((library, symbol), {"cpu_ms": 0.0, "symbol": symbol,
                                                      "library": Path(library).name, "isa": isa})
        place["cpu_ms"] += period / 1e6
    return places


def summary(runtime: str, latencies: list[float], places: dict[tuple[str, str], dict],
            libraries: list[Path]) -> dict:
    """One runtime's line: its median, its CPU ms per inference by instruction set, its hottest places."""
    count = len(latencies)
    total = sum(place["cpu_ms"] for place in places.values())
    by_isa = {isa: sum(p["cpu_ms"] for p in places.values() if p["isa"] == isa) for isa in ISAS}
    hottest = sorted(places.values(), key=lambda place: -place["cpu_ms"])[:10]
    return {"runtime": runtime, "ms": round(statistics.median(latencies), 3), "inferences": count,
            "library": {path.name: counts for path in libraries if any((counts := instruction_counts(path)).values())},
            "cpu_ms_per_inference": round(total / count, 3),
            "cpu_ms_by_isa": {isa: round(ms / count, 3) for isa, ms in by_isa.items()},
            "samples_by_isa": {isa: round(100 * ms / total, 1) for isa, ms in by_isa.items()},
            "hottest": [{"share": round(100 * place["cpu_ms"] / total, 2), **{k: place[k] for k in
                                                                               ("symbol", "library", "isa")}}
                        for place in hottest]}


def build_runners(name: str, precision: str, threads: int, folder: Path, litert_python: Path | None):
    """runtime -> (process id, timing function, libraries); and the LiteRT peer to close."""
    card, model, eager, x, calibration = student(name)
    fmt = FORMATS["pte-int8" if precision == "int8" else "pte"]
    pte = folder / f"{name}{fmt.suffix}"
    export_artifact(card, model, random_init_facts(0), fmt, pte, calibration=calibration, lowering="cmx")
    onnx = folder / "model.onnx"
    export_onnx(eager, x, onnx)
    if precision == "int8":
        onnx, fp32 = folder / "model-int8.onnx", onnx
        quantize_onnx(fp32, onnx, calibration)
    runners = {".pte": (os.getpid(), LocalRunner(load_artifact(pte, fmt.runtime), x).time),
               "onnxruntime": (os.getpid(), ort_runner(onnx, x, threads).time)}
    peer = None
    if litert_python is not None:
        with torch.inference_mode():
            reference = eager(x)
        peer = LiteRTPeer(litert_python, folder, torch.export.export(eager, (x,)), x, calibration, reference,
                          threads)
        runners["litert"] = (peer.process.pid, peer.runners()[f"litert {precision}"].time)
    return {runtime: (pid, time_fn, runtime_libraries(runtime, litert_python))
            for runtime, (pid, time_fn) in runners.items()}, peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=STUDENTS, default="squeezenet1_1")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="int8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="seconds of inferences perf records per runtime, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--litert-venv", type=Path, default=ROOT / ".venv-litert")
    parser.add_argument("--no-litert", action="store_true")
    args = parser.parse_args()
    if min(args.threads, args.rounds) < 1 or args.seconds <= 0:
        parser.error("--threads and --rounds must be at least 1, --seconds above 0")
    missing = [tool for tool in ("perf", "objdump", "readelf") if shutil.which(tool) is None]
    if missing:
        parser.error(f"{' and '.join(missing)} not found: install linux-perf and binutils")
    warnings.filterwarnings("ignore")
    litert_python = None if args.no_litert else ensure_litert_venv(args.litert_venv)
    torch.set_num_threads(args.threads)
    print(json.dumps({"model": args.model, "precision": args.precision, "threads": args.threads,
                      "executorch_threads": set_threads("executorch", args.threads), **host_cpu()}), flush=True)
    table = []
    with tempfile.TemporaryDirectory(prefix="cmx-kernel-isa-") as tmp:
        folder = Path(tmp)
        runners, peer = build_runners(args.model, args.precision, args.threads, folder, litert_python)
        try:
            iters = {}
            for runtime, (_, time_fn, _) in runners.items():
                time.sleep(SETTLE_S)
                iters[runtime] = max(20, int(args.seconds / args.rounds * 1000 / statistics.median(time_fn(20))))
            latencies = {runtime: [] for runtime in runners}
            places: dict[str, dict] = {runtime: {} for runtime in runners}
            # Interleaved rounds, as runtimes.py times: a slow phase of the host falls on every runtime alike.
            for round_index in range(args.rounds):
                for runtime, (pid, time_fn, libraries) in runners.items():
                    time.sleep(SETTLE_S)  # ONNX Runtime's workers spin on after its last inference
                    data = folder / f"{runtime.strip('.')}-{round_index}.data"
                    latencies[runtime] += recorded(pid, data, lambda: time_fn(iters[runtime]))
                    for key, place in sampled(data, libraries).items():
                        kept = places[runtime].setdefault(key, {**place, "cpu_ms": 0.0})
                        kept["cpu_ms"] += place["cpu_ms"]
                    data.unlink()
            for runtime, (_, _, libraries) in runners.items():
                table.append(summary(runtime, latencies[runtime], places[runtime], libraries))
                print(json.dumps(table[-1]), flush=True)
        finally:
            if peer is not None:
                peer.close()
    print(f"\n{args.model} {args.precision}, {args.threads} threads: median ms, then CPU ms per inference (all "
          "threads) in code of each instruction set\n")
    print("| runtime | ms | CPU ms | " + " | ".join(ISAS) + " |\n|---|---|---|" + "---|" * len(ISAS))
    for row in table:
        print(f"| {row['runtime']} | {row['ms']:.2f} | {row['cpu_ms_per_inference']:.2f} | "
              + " | ".join(f"{row['cpu_ms_by_isa'][isa]:.2f}" for isa in ISAS) + " |")


if __name__ == "__main__":
    main()
