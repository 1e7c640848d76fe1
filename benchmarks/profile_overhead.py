"""Operator profiling must not move the latency that `run` reports, and its operator times must add up.

Run: python benchmarks/profile_overhead.py [--rounds 3]

For each student in .pte fp32 and int8 on the local device, runs `run` without and with `--profile`, alternating,
`--rounds` times each, in one process. Prints one JSON line per (model, format) and a Markdown table: the median
latency of every round without and with profiling, whether the profiled runs' medians fall within the spread of
the plain runs (widened by the plain runs' own round-to-round range), the profile's coverage (operator time
over the measured median; target 0.85 to 1.15) and its execute coverage (operator time over the profiled
inferences' own Method::execute median, which the drift between the timed and profiled phases cannot move), operator row count (target >= 10), and how the delegated rows were
mapped to modules through the ETRecord (own node / layout operator XNNPACK inserts / unmapped; target: none unmapped).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from cmx_bench.bench.session import BenchOptions, run_benchmark
from cmx_bench.devices.base import RunSettings
from cmx_bench.nets.registry import STUDENTS


def one_run(model: str, fmt: str, profile: bool, out: Path) -> dict:
    settings = RunSettings(iterations=100, min_duration_s=2.0, profile_iterations=20 if profile else 0)
    [record] = run_benchmark(BenchOptions(models=[model], formats=[fmt], out_dir=out, settings=settings)).records
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cmx-profile-bench-") as folder:
        for model in STUDENTS:
            for fmt in ("pte", "pte-int8"):
                plain, profiled, coverage, execute, counts, modules = [], [], [], [], [], {}
                for _ in range(args.rounds):
                    plain.append(one_run(model, fmt, False, Path(folder))["latency"]["stats"]["median_ms"])
                    record = one_run(model, fmt, True, Path(folder))
                    profiled.append(record["latency"]["stats"]["median_ms"])
                    coverage.append(record["profile"]["coverage"])
                    execute.append(record["profile"]["execute_coverage"])
                    counts.append(len(record["profile"]["operators"]))
                    modules = record["profile"]["modules"]
                low, high = min(plain), max(plain)
                spread = high - low
                within = all(low - spread <= value <= high + spread for value in profiled)
                row = {"model": model, "format": fmt, "plain_medians_ms": plain, "profiled_medians_ms": profiled,
                       "profiled_within_spread": within, "coverage": coverage, "execute_coverage": execute,
                       "operator_rows": min(counts),
                       "coverage_in_target": all(0.85 <= c <= 1.15 for c in coverage),
                       "modules": {k: modules.get(k) for k in ("status", "delegated_rows", "matched", "inserted",
                                                               "unmapped")}}
                print(json.dumps(row), flush=True)
                rows.append(row)
    print("\n| model | format | median ms without --profile | with --profile | within spread | coverage | "
          "execute coverage | rows | delegated rows: own node / inserted layout / unmapped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fmt_list = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
        print(f"| {r['model']} | {r['format']} | {fmt_list(r['plain_medians_ms'])} | {fmt_list(r['profiled_medians_ms'])} "
              f"| {'yes' if r['profiled_within_spread'] else 'NO'} | {fmt_list(r['coverage'])} "
              f"| {fmt_list(r['execute_coverage'])} | {r['operator_rows']} "
              f"| {r['modules']['matched']} / {r['modules']['inserted']} / {r['modules']['unmapped']} |")
    print(f"\nmedian plain {statistics.median(v for r in rows for v in r['plain_medians_ms']):.2f} ms; "
          f"all profiled within spread: {all(r['profiled_within_spread'] for r in rows)}; "
          f"all coverage in 0.85-1.15: {all(r['coverage_in_target'] for r in rows)}")


if __name__ == "__main__":
    main()
