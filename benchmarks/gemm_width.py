"""How fast XNNPACK runs a pointwise convolution for each output width, and whether padding to the GEMM's width pays.

Run: python benchmarks/gemm_width.py [--threads 1 --from 8 --to 260 --step 4 --pixels 14 --iters 200]
(run it alone on the machine)

Part 1, the scan: one fp32 `.pte` (stock lowering) of 1x1 convolutions with ReLU, 128 -> N -> 128 -> N' -> ... for
every N of the range, on a --pixels x --pixels map; its ETDump gives each convolution's median time, and the script
prints GMAC/s per N (the 128-wide ones in between are not printed). Part 2, the pass: networks of the three students'
widths (116, 232, 58 and 24 channels, chains of 10 pointwise convolutions with their batch norms), each exported
with the `cmx` lowering padded to the next multiple of 16 (whatever pad_to_gemm_width's rule says of that width)
and unpadded, timed in interleaved rounds; prints the median per-round padded / unpadded ratio for each (below 1.0:
padding is faster).
This is what cmx_bench/export/passes.py's GEMM_TILE and MAX_PADDING rest on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from unittest import mock

import torch
from ort_profile import pte_events  # sibling scripts: one profiling run and one timing loop for the benchmarks
from runtimes import LocalRunner, interleaved_medians

from cmx_bench.export import lowering, passes
from cmx_bench.export.loaders import load_artifact, set_threads


def scan(widths: list[int], pixels: int, iters: int, folder: Path) -> list[dict]:
    """GMAC/s of each 128 -> N convolution, from one profiled program holding all of them."""
    layers = []
    for width in widths:
        layers += [torch.nn.Conv2d(128, width, 1), torch.nn.ReLU(), torch.nn.Conv2d(width, 128, 1), torch.nn.ReLU()]
    network, example = torch.nn.Sequential(*layers).eval(), torch.randn(1, 128, pixels, pixels)
    path = folder / "scan.pte"
    path.write_bytes(lowering.to_pte(network, example, lowering="stock"))
    events = pte_events(path, example, iters)
    gemms = [float(ms) for name, ms in events[["event_name", "p50_ms"]].values if "GEMM" in name]
    if len(gemms) != 2 * len(widths):
        raise SystemExit(f"expected {2 * len(widths)} GEMM events in the profile, found {len(gemms)}")
    return [{"width": width, "median_us": round(ms * 1e3, 1),
             "gmac_per_s": round(128 * width * pixels * pixels / ms / 1e6, 1)}
            for width, ms in zip(widths, gemms[::2])]


class PointwiseChain(torch.nn.Module):
    """10 pointwise convolutions of `width` channels, each with its batch norm and ReLU, as ShuffleNetV2's branches."""

    def __init__(self, width: int):
        super().__init__()
        self.layers = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Conv2d(width, width, 1, bias=False),
                                                                torch.nn.BatchNorm2d(width), torch.nn.ReLU())
                                            for _ in range(10)])

    def forward(self, x):
        return self.layers(x)


def padded_against_unpadded(width: int, pixels: int, rounds: int, iters: int, folder: Path) -> dict:
    torch.manual_seed(0)
    network, example = PointwiseChain(width).eval(), torch.randn(1, width, pixels, pixels)
    runners = {}
    for padded in (True, False):
        path = folder / f"chain-{width}-{'padded' if padded else 'unpadded'}.pte"
        # Every remainder padded here, so that the rule's own choice is what is measured.
        with mock.patch.object(passes, "SLOW_REMAINDERS", tuple(range(1, passes.GEMM_TILE))):
            path.write_bytes(lowering.to_pte(network, example, skip=() if padded else ("pad_to_gemm_width",)))
        runners[padded] = LocalRunner(load_artifact(path, "executorch"), example)
    medians = interleaved_medians(runners, rounds, iters)
    ratios = [padded / unpadded for padded, unpadded in zip(medians[True], medians[False])]
    return {"width": width, "pixels": pixels, "padded_over_unpadded": round(statistics.median(ratios), 3),
            "rounds": [round(r, 3) for r in ratios]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--from", dest="first", type=int, default=8)
    parser.add_argument("--to", type=int, default=260)
    parser.add_argument("--step", type=int, default=4)
    parser.add_argument("--pixels", type=int, default=14)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    in_force = set_threads("executorch", args.threads)
    print(json.dumps({"threads": in_force}), flush=True)
    with tempfile.TemporaryDirectory(prefix="cmx-gemm-width-") as folder:
        rows = scan(list(range(args.first, args.to + 1, args.step)), args.pixels, args.iters, Path(folder))
        for row in rows:
            print(json.dumps(row), flush=True)
        # The students' widths the pass pads, on the map sizes they run at.
        for width, pixels in ((116, 14), (232, 7), (58, 28), (24, 56)):
            print(json.dumps(padded_against_unpadded(width, pixels, args.rounds, 50, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
