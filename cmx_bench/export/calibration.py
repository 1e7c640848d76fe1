"""The peak calibration program (large 1x1 convolutions, fp32 and int8), cached, and the efficiency against it."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from cmx_bench import paths
from cmx_bench.errors import ArtifactError
from cmx_bench.export import lowering as lowerings
from cmx_bench.export.manifest import MANIFEST_VERSION, library_versions, manifest_macs, manifest_path, verify_artifact
from cmx_bench.export.program_facts import pte_facts
from cmx_bench.fileio import default_file_mode, sha256_file, write_json_atomic
from cmx_bench.nets.complexity import count_params_and_macs

# XNNPACK runs a 1x1 convolution as one GEMM (M = 28 * 28 pixels, K = N = 512 channels). Two of them, then a global
# average pool: what the program's edges cost (the input's conversion to NHWC, int8's quantisation of it, the call)
# is shared by 411M MACs, and the output is 512 values, not a 1.6 MB feature map that the runner would copy out
# after every inference. On the development host (2 threads) this ran at 87 GMAC/s fp32 and 233 int8, where one
# Conv2d(256, 256, 1) on 1x256x56x56 returning its feature map ran at 25 for both: the copy-out dominated.
CHANNELS = 512
DEPTH = 2
INPUT_SHAPE = (1, CHANNELS, 28, 28)
PROGRAM_NAME = "peak_conv1x1"
# The artifact format that carries each precision, as the networks' records name it.
FORMAT_OF_PRECISION = {"fp32": "pte", "int8": "pte-int8"}
# One convolution gives the cmx passes nothing to rewrite; the stock lowering keeps the program independent of them.
LOWERING = "stock"
# Its input read in place, as the cmx lowering's programs read theirs (export/lowering.py's _memory_plan): a peak
# is what the runtime reaches at best, and a 1.6 MB copy per call is not part of that.
INPUT_IN_PLACE = True
# The peak is the median of the calibration's fastest quarter of inferences, not of all of them: a peak is what the
# device reaches at best, and a burst of other load that slows some iterations (a shared host, a phone's background
# sync) would otherwise lower it and push a network that ran unloaded above 100 % of it.
PEAK_FRACTION = 0.25
CALIBRATION_TENSORS = 4  # int8: random tensors the quantiser observes (the program's ranges, not a data set's)
SEED = 0

# Why a record has no efficiency figure.
LITE_REASON = "the calibration program is an ExecuTorch .pte; PyTorch Lite has no peak measured here"
NO_MACS_REASON = "exported before MACs were recorded: export it again"


class PeakConvolution(torch.nn.Module):
    """DEPTH 1x1 convolutions without bias, then a global average pool: every MAC is GEMM work."""

    def __init__(self):
        super().__init__()
        self.convs = torch.nn.Sequential(*[torch.nn.Conv2d(CHANNELS, CHANNELS, 1, bias=False) for _ in range(DEPTH)])

    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(self.convs(x), 1)


def _random_tensors(count: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(INPUT_SHAPE, generator=generator) for _ in range(count)]


def _cache_key(precision: str) -> str:
    facts = {"program": PROGRAM_NAME, "input_shape": list(INPUT_SHAPE), "depth": DEPTH, "precision": precision,
             "lowering": LOWERING, "input_in_place": INPUT_IN_PLACE,
             "versions": library_versions(), "seed": SEED}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _program_bytes(model: torch.nn.Module, precision: str) -> bytes:
    example = torch.zeros(INPUT_SHAPE)
    graph = model
    if precision == "int8":  # quantised the way the networks' int8 artifacts are
        graph = lowerings.quantize_int8(model, example, _random_tensors(CALIBRATION_TENSORS, SEED + 1),
                                        lowering=LOWERING)
    return lowerings.to_pte(graph, example, lowering=LOWERING, input_in_place=INPUT_IN_PLACE)


def export_calibration(precision: str, out_path: Path) -> dict:
    """Write the calibration program at `precision` ('fp32' or 'int8') to out_path with its manifest (MACs in it)."""
    if precision not in FORMAT_OF_PRECISION:
        raise ValueError(f"calibration precision {precision!r} is not one of {', '.join(FORMAT_OF_PRECISION)}")
    torch.manual_seed(SEED)
    model = PeakConvolution().eval()
    complexity = count_params_and_macs(model, INPUT_SHAPE)
    data = _program_bytes(model, precision)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        program = pte_facts(tmp)
        manifest = {
            "manifest_version": MANIFEST_VERSION, "artifact": out_path.name, "role": "calibration",
            "sha256": sha256_file(tmp), "size_bytes": os.path.getsize(tmp),
            "format": FORMAT_OF_PRECISION[precision], "runtime": "executorch", "quantization": precision,
            "calibration": f"{CALIBRATION_TENSORS} random tensors (seed {SEED + 1})" if precision == "int8" else None,
            "model": {"name": PROGRAM_NAME, "description": f"{DEPTH} x Conv2d({CHANNELS}, {CHANNELS}, 1, bias=False), "
                                                           "global average pool"},
            "input_shape": list(INPUT_SHAPE), "input_dtype": "float32", "output": "pooled features",
            "versions": library_versions(), "program": program,
            "lowering": {"name": LOWERING, "input_in_place": program["planned_inputs"] == 0}, "complexity": complexity,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_json_atomic(manifest_path(out_path), manifest)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return manifest


def calibration_artifact(precision: str) -> Path:
    """The calibration program at `precision` from the artifact cache, exported on first use."""
    path = paths.artifact_cache_dir() / "calibration" / f"{PROGRAM_NAME}-{precision}-{_cache_key(precision)}.pte"
    if path.is_file() and manifest_path(path).is_file():
        try:
            if manifest_macs(verify_artifact(path)):
                return path
        except ArtifactError:
            pass  # a damaged cache entry is rebuilt, not trusted
    export_calibration(precision, path)
    return path


def write_calibration_input(folder: Path) -> Path:
    """One seeded random input for the runner, raw little-endian float32 as the protocol wants (written once)."""
    path = Path(folder) / f"{PROGRAM_NAME}-input.f32"
    if not path.is_file():
        _random_tensors(1, SEED)[0].numpy().astype("<f4").tofile(path)
    return path


def fastest_fraction_median(latencies_ms: list[float], fraction: float = PEAK_FRACTION) -> float:
    """The median of the fastest `fraction` of the latencies (at least one of them)."""
    fastest = sorted(latencies_ms)[:max(1, round(len(latencies_ms) * fraction))]
    return statistics.median(fastest)


def calibration_block(manifest: dict, latencies_ms: list[float], precision: str, threads: int) -> dict:
    """What one calibration run measured: its median, its fastest quarter's median and the peak MAC/s that follows."""
    peak_ms = fastest_fraction_median(latencies_ms)
    macs = manifest_macs(manifest)
    return {"artifact_sha256": manifest["sha256"], "median_ms": statistics.median(latencies_ms), "peak_ms": peak_ms,
            "peak_basis": f"median of the fastest {PEAK_FRACTION:.0%} of inferences", "macs": macs,
            "precision": precision, "threads": threads, "iterations": len(latencies_ms),
            "peak_macs_per_s": macs / (peak_ms / 1e3)}


def efficiency_block(macs: int, median_ms: float, calibration: dict) -> dict:
    """The network's achieved MAC/s against the calibration's peak, and the latency that peak would give it."""
    peak = calibration["peak_macs_per_s"]
    achieved = macs / (median_ms / 1e3)
    floor_ms = macs / peak * 1e3
    return {"status": "ok", "macs": macs, "achieved_macs_per_s": achieved, "peak_macs_per_s": peak,
            "efficiency": achieved / peak, "latency_floor_ms": floor_ms, "x_floor": median_ms / floor_ms,
            "calibration": calibration}


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}
