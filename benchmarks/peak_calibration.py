"""Do two runs of the peak calibration on the local device agree? (issue #23: within 10 % on a quiet host)

Run: python benchmarks/peak_calibration.py [--threads 2 --precision fp32 --precision int8]

Measures the calibration program (export/calibration.py: one 1x1 convolution, XNNPACK) exactly as `cmx-bench run`
does (bench/peak.py's calibration job through the local device's host runner), twice per precision, interleaved
(fp32, int8, fp32, int8) so that both runs of a precision see the same machine state, and prints each run's peak
MAC/s and the ratio of the two. A benchmark, not a test: the ratio says as much about the host's quiet as about the
harness, so the host's load average is printed with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from cmx_bench.bench.peak import PeakMeter
from cmx_bench.bench.session import BenchOptions
from cmx_bench.devices.registry import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="runtime threads (0: the runtime's default)")
    parser.add_argument("--precision", action="append", choices=["fp32", "int8"],
                        help="repeatable; default both")
    parser.add_argument("--runs", type=int, default=2, help="runs per precision, interleaved")
    args = parser.parse_args()
    precisions = args.precision or ["fp32", "int8"]
    options = BenchOptions(threads=[args.threads])
    device = resolve_device("local", options.android)
    workdir = Path(tempfile.mkdtemp(prefix="cmx-peak-"))
    peaks = {precision: [] for precision in precisions}
    try:
        for run in range(args.runs):
            for precision in precisions:
                # A fresh PeakMeter each time: a run's meter hands back its first measurement.
                block = PeakMeter(device, options.settings, workdir).peak(precision, args.threads)
                if "error" in block:
                    raise SystemExit(f"the calibration failed: {block['error']}")
                peaks[precision].append(block)
                print(f"run {run + 1} {precision}: median {block['median_ms']:.3f} ms, fastest quarter's median "
                      f"{block['peak_ms']:.3f} ms over {block['iterations']} inferences, "
                      f"peak {block['peak_macs_per_s'] / 1e9:.1f} GMAC/s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"threads {args.threads}; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs (a shared host's load moves these figures)")
    for precision, blocks in peaks.items():
        values = [block["peak_macs_per_s"] for block in blocks]
        ratio = max(values) / min(values)
        print(f"{precision}: peaks {', '.join(f'{v / 1e9:.1f}' for v in values)} GMAC/s; max/min {ratio:.3f} "
              f"({'within' if ratio <= 1.10 else 'outside'} 10 %)")


if __name__ == "__main__":
    main()
