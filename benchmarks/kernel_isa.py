"""Which instruction sets each runtime's native code holds, and which its inferences run on this host (Linux perf).

Run: python benchmarks/kernel_isa.py [--model squeezenet1_1 --precision int8 --threads 2 --seconds 6 --rounds 3
     --litert-venv DIR --no-litert]
(needs: pip install -e '.[bench]'; Linux `perf` (Debian: linux-perf; Ubuntu: linux-tools-$(uname -r)) allowed to
record this user's processes, binutils 2.36 or later (objdump, readelf); run it alone on the machine)

A peer that leads cmx-bench's `.pte` on a development host may lead with instructions that no phone has. For the
student at --precision, built as benchmarks/runtimes.py builds it (the `.pte` with the default `cmx` lowering, ONNX
Runtime, LiteRT in its own venv; random weights, seed 0), this prints one JSON line per runtime:
- `library`: per native library of the runtime that the samples fell in, how many AMX tile instructions (tdp*,
  tileloadd*) and VNNI dot products (vpdpbusd, vpdpbssd, ...) objdump finds in it: what it can run at all;
- `ms`: the median of its inferences while perf recorded (--seconds of them in all, after a warm-up, at --threads,
  in --rounds interleaved rounds: each round records every runtime in turn, after 0.2 s of rest);
- `samples_by_isa`: of perf's cpu-clock samples of the runtime's process (all its threads, 2 kHz of CPU time each),
  the share (%) in code of each instruction set: amx (any AMX tile instruction), avx512-vnni and avx-vnni (VNNI dot
  products, EVEX- or VEX-encoded), avx512 (other EVEX code), avx2 (other VEX code: AVX, AVX2, FMA3, F16C), other.
  A sample in a named kernel takes the instruction set from the name (XNNPACK names its kernels for theirs:
  `xnn_qs8_qc8w_igemm_minmax_fp32_ukernel_16x64c4__avx512amx`); a sample in a library without symbols from the
  richest instructions of the function that holds it (its bounds from the library's unwind table, or, for
  hand-written code that has no unwind entry, the code between the returns around it: `share_without_unwind_bounds`
  says how much of the time was split so); samples outside the runtime's libraries (Python's loop, the kernel, libc)
  count as `outside`. Kernel time is sampled only where perf may (root, or perf_event_paranoid below 2);
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
_AMX = re.compile(r"^(tdp\w+|tileloadd\w*)$")  # tdpbssd, tdpbusd, tdpbf16ps, tdpfp16ps; tile loads
_VNNI = re.compile(r"^vpdp(b[su][su]|wss)ds?$")
# objdump -d --insn-width=15: "  1f260c:\t62 f2 75 48 50 c2 \tvpdpbusd %zmm2,%zmm1,%zmm0" (an "{evex} " or "{vex} "
# pseudo-prefix may stand before the mnemonic)
_INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+)\t(?:\{\w+\} )?([a-z][a-z0-9]*)")
# Prefixes that may stand before a VEX or EVEX byte in 64-bit code: address size, segment overrides.
_LEGACY_PREFIXES = {"67", "26", "2e", "36", "3e", "64", "65"}
# readelf --debug-dump=frames: "... FDE cie=00000000 pc=00000000001f22b0..00000000001f2ada"
_FDE = re.compile(r"FDE cie=\w+ pc=([0-9a-f]+)\.\.([0-9a-f]+)")
# readelf -lW: "  LOAD  0x000000 0x0000000000000000 0x0000000000000000 0x02a8c8 0x02a8c8 R E 0x1000"
_LOAD = re.compile(r"(?m)^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")
# perf report -v --sort dso,sym -F period,dso,sym: "  1003000000  /path/lib.so  0x1f260c  B [.] symbol-or-address"
# (the address is the sample's offset in the file)
_REPORT_LINE = re.compile(r"^\s*(\d+)\s+(.+?)\s+0x([0-9a-f]+)\s+\S\s+\[.\]\s+(.*?)\s*$")
# XNNPACK's kernel names end in the instruction set they are written for ("__avx512amx", "__avx256skx", "__fma3");
# the first marker found wins: avx256* is AVX-512 on 256-bit registers, fma3 and f16c are VEX-encoded like AVX2;
# sse, scalar and the like count as "other".
_NAMED_ISA = (("amx", "amx"), ("avx512vnni", "avx512-vnni"), ("avx256vnni", "avx512-vnni"), ("avxvnni", "avx-vnni"),
              ("avx512", "avx512"), ("avx256", "avx512"), ("avx2", "avx2"), ("fma3", "avx2"), ("f16c", "avx2"),
              ("avx", "avx2"))
# Below 2.36 objdump does not decode AMX and would report none.
_OBJDUMP_WITH_AMX = (2, 36)


def runtime_libraries(runtime: str, litert_python: Path | None) -> list[Path]:
    """The native libraries whose code counts as the runtime's."""
    if runtime == ".pte":
        import executorch
        return sorted(Path(executorch.__path__[0], "lib").glob("*.so"))
    if runtime == "onnxruntime":
        import onnxruntime
        return sorted(Path(onnxruntime.__path__[0], "capi").glob("*.so*"))
    site = next((litert_python.parent.parent / "lib").glob("python3*/site-packages/ai_edge_litert"), None)
    if site is None:
        raise SystemExit(f"no ai_edge_litert package in LiteRT's environment at {litert_python.parent.parent}; "
                         "delete that folder to have it built again, or leave LiteRT out with --no-litert")
    return sorted(site.glob("*.so"))


def instruction_counts(library: str) -> dict[str, int]:
    """How many AMX tile and VNNI dot-product instructions the library's code holds (one streamed objdump pass)."""
    counts = {"amx": 0, "vnni": 0}
    with subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", library], stdout=subprocess.PIPE,
                          text=True) as objdump:
        for line in objdump.stdout:
            mnemonic = re.sub(r"^\{\w+\} ", "", line.split("\t")[-1]).split(" ", 1)[0].strip()
            if _AMX.match(mnemonic):
                counts["amx"] += 1
            elif _VNNI.match(mnemonic):
                counts["vnni"] += 1
    return counts


def _opcode_start(raw: str) -> str:
    """An instruction's first byte after the prefixes that may precede VEX and EVEX."""
    codes = raw.split()
    while len(codes) > 1 and codes[0] in _LEGACY_PREFIXES:
        codes = codes[1:]
    return codes[0] if codes else ""


@lru_cache(maxsize=None)
def code_between(library: str, start: int, end: int) -> tuple[tuple[int, str, str], ...]:
    """(address, first byte after prefixes, mnemonic) of each instruction from `start` to `end` (ELF addresses)."""
    text = subprocess.run(["objdump", "-d", "--insn-width=15", f"--start-address={start:#x}",
                           f"--stop-address={end:#x}", library], check=True, capture_output=True, text=True).stdout
    return tuple((int(match.group(1), 16), _opcode_start(match.group(2)), match.group(3))
                 for match in map(_INSTRUCTION.match, text.splitlines()) if match)


def isa_of_code(code) -> str:
    """The richest instruction set in `code`, by encoding: a function with one AMX tile product is an AMX kernel
    (its loads and stores included); VNNI is AVX-512 VNNI when EVEX-encoded (whatever the register width), AVX-VNNI
    when VEX-encoded; other EVEX code is avx512, other VEX code (AVX, AVX2, FMA3, F16C) avx2."""
    mnemonics = [mnemonic for _, _, mnemonic in code]
    if any(_AMX.match(mnemonic) for mnemonic in mnemonics):
        return "amx"
    vnni = [first for _, first, mnemonic in code if _VNNI.match(mnemonic)]
    if vnni:
        return "avx512-vnni" if "62" in vnni else "avx-vnni"
    if any(first == "62" for _, first, _ in code):
        return "avx512"
    return "avx2" if any(first in ("c4", "c5") for _, first, _ in code) else "other"


@lru_cache(maxsize=None)
def load_segments(library: str) -> tuple[tuple[int, int, int], ...]:
    """(file offset, address, size in the file) of each loadable segment."""
    text = subprocess.run(["readelf", "-lW", library], check=True, capture_output=True, text=True).stdout
    return tuple((int(offset, 16), int(address, 16), int(size, 16))
                 for offset, address, size in _LOAD.findall(text))


def elf_address(library: str, offset: int) -> int:
    """The ELF address of a file offset (perf reports offsets; objdump and the unwind table use addresses)."""
    for start, address, size in load_segments(library):
        if start <= offset < start + size:
            return offset - start + address
    return offset


@lru_cache(maxsize=None)
def functions(library: str) -> list[tuple[int, int]]:
    """(start, end) of every function the library's unwind table (.eh_frame) describes, sorted: a stripped
    library's function bounds."""
    text = subprocess.run(["readelf", "--debug-dump=frames", library], check=True, capture_output=True,
                          text=True).stdout
    return sorted((int(start, 16), int(end, 16)) for start, end in _FDE.findall(text))


def function_at(library: str, address: int) -> tuple[int, int, bool]:
    """The bounds of the code holding `address`, and whether the unwind table gave them. Hand-written assembly has
    no unwind entry: then the code from the `ret` before the address to the one after it (within 4-8 KiB)."""
    ranges = functions(library)
    index = bisect.bisect_right(ranges, (address, float("inf"))) - 1
    if index >= 0 and ranges[index][0] <= address < ranges[index][1]:
        return ranges[index][0], ranges[index][1], True
    page = address & ~0xFFF  # one disassembly per page, not per sampled address
    nearby = code_between(library, max(page - 4096, 0), page + 8192)
    returns = [at for at, _, mnemonic in nearby if mnemonic == "ret"]
    start = max((at + 1 for at in returns if at < address), default=max(page - 4096, 0))
    end = min((at + 1 for at in returns if at >= address), default=page + 8192)
    return start, end, False


def place_of(symbol: str, library: str, offset: int) -> tuple[str, str, bool]:
    """A sample's place (its symbol, or the start of the code that holds it), that code's instruction set, and
    whether its bounds were known. An XNNPACK kernel's instruction set is in its name ("..._16x64c4__avx512amx")."""
    tag = symbol.rpartition("__")[2] if "_ukernel_" in symbol else ""
    named = next((isa for marker, isa in _NAMED_ISA if marker in tag), "other" if tag else None)
    if named is not None:
        return symbol, named, True
    start, end, bounded = function_at(library, elf_address(library, offset))
    place = symbol if not symbol.startswith("0x") else f"{'function' if bounded else 'code'} at {start:#x}"
    return place, isa_of_code(code_between(library, start, end)), bounded


def recorded(pid: int, output: Path, work) -> list[float]:
    """Latencies of `work()` while perf records every thread of process `pid` into `output`."""
    # cpu-clock whatever the host's counters (its periods are nanoseconds); -N: no copies into ~/.debug.
    perf = subprocess.Popen(["perf", "record", "-q", "-N", "-e", "cpu-clock", "-F", "2000", "-p", str(pid),
                             "-o", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # perf attaches to the threads first
    if perf.poll() is not None:
        raise SystemExit(f"perf record could not attach ({perf.stderr.read().strip()[:200]}); check that perf "
                         "works for this kernel and /proc/sys/kernel/perf_event_paranoid (at most 2)")
    try:
        samples = work()
    finally:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    return samples


def sampled(data: Path, libraries: list[Path]) -> dict[tuple[str, str], dict]:
    """CPU ms perf's samples stand for per place (library, symbol; a stripped library's addresses gathered by the
    code that holds them), each with its instruction set and whether that code's bounds were known."""
    report = subprocess.run(["perf", "report", "-i", str(data), "-v", "--no-children", "--sort", "dso,sym",
                             "--stdio", "-F", "period,dso,sym"], check=True, capture_output=True, text=True).stdout
    own = {path.resolve() for path in libraries}
    places: dict[tuple[str, str], dict] = {}
    for line in report.splitlines():
        match = _REPORT_LINE.match(line)
        if not match:
            continue
        period, library, offset, symbol = int(match.group(1)), match.group(2), int(match.group(3), 16), match.group(4)
        if Path(library).resolve() in own:
            symbol, isa, bounded = place_of(symbol, library, offset)
        else:
            isa, bounded = "outside", True
        place = places.setdefault((library, symbol), {"cpu_ms": 0.0, "symbol": symbol, "library": Path(library).name,
                                                      "isa": isa, "bounded": bounded})
        place["cpu_ms"] += period / 1e6
    return places


def summary(runtime: str, latencies: list[float], places: dict[tuple[str, str], dict]) -> dict:
    """One runtime's line: its median, its CPU ms per inference by instruction set, its hottest places."""
    count = len(latencies)
    total = sum(place["cpu_ms"] for place in places.values())
    if not total:
        raise SystemExit(f"perf recorded no samples of {runtime}: is perf allowed to record this process?")
    by_isa = {isa: sum(p["cpu_ms"] for p in places.values() if p["isa"] == isa) for isa in ISAS}
    hottest = sorted(places.values(), key=lambda place: -place["cpu_ms"])[:10]
    libraries = sorted({library for (library, _), place in places.items() if place["isa"] != "outside"})
    return {"runtime": runtime, "ms": round(statistics.median(latencies), 3), "inferences": count,
            "library": {Path(library).name: instruction_counts(library) for library in libraries},
            "cpu_ms_per_inference": round(total / count, 3),
            "cpu_ms_by_isa": {isa: round(ms / count, 3) for isa, ms in by_isa.items()},
            "samples_by_isa": {isa: round(100 * ms / total, 1) for isa, ms in by_isa.items()},
            "share_without_unwind_bounds": round(100 * sum(p["cpu_ms"] for p in places.values()
                                                           if not p["bounded"]) / total, 1),
            "hottest": [{"share": round(100 * place["cpu_ms"] / total, 2),
                         **{key: place[key] for key in ("symbol", "library", "isa")}} for place in hottest]}


def objdump_release() -> tuple[int, ...]:
    """objdump's release, from the last word of its first --version line ("GNU objdump (GNU Binutils) 2.40")."""
    first = subprocess.run(["objdump", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    found = re.search(r"(\d+)\.(\d+)", first[0].split()[-1]) if first else None
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


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
        parser.error(f"{' and '.join(missing)} not found: install binutils and perf (Debian: linux-perf; Ubuntu: "
                     "linux-tools-$(uname -r))")
    if objdump_release() < _OBJDUMP_WITH_AMX:
        parser.error("objdump older than binutils 2.36 does not decode AMX instructions: install a newer binutils")
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
            for runtime in runners:
                table.append(summary(runtime, latencies[runtime], places[runtime]))
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
