"""Operator profiling must not move the latency that `run` reports, and its operator times must add up.

Run: python benchmarks/profile_overhead.py [--rounds 9]    (about 20 minutes on a 2-core VM)

For each student in .pte fp32 and int8 on the local device, runs `run` without and with `--profile`, alternating,
`--rounds` times each, in one process. Prints one JSON line per (model, format) and a Markdown table:
- the median latency of every round without and with profiling, whether the median of the profiled rounds
  lies within the plain rounds' run-to-run spread (their lowest to highest median), and the two-sided
  Mann-Whitney U p-value of the two sets of round medians. With no effect at all, the spread check fails by chance
  for a (model, format) with probability 0.40 at 3 rounds, 0.17 at 5, 0.07 at 7 and 0.03 at 9 (simulated, i.i.d.
  rounds), hence 9 rounds by default; the p-value says whether a miss is more than chance;
- coverage: operator time over the median of the unprofiled inferences the runner runs between the profiled ones
  (target 0.85 to 1.15), and, beside it, timed coverage (operator time over the timed median, measured seconds
  earlier, so it carries the machine's drift between the phases) and execute coverage (over the profiled
  inferences' own Method::execute median);
- what recording the events cost an inference (profiled execute over the unprofiled reference);
- operator row count (target >= 10), and how the delegated rows were mapped to modules through the ETRecord
  (own node / layout operator XNNPACK inserts / unmapped; target: none unmapped).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from scipy.stats import mannwhitneyu

from cmx_bench.bench.session import BenchOptions, run_benchmark
from cmx_bench.nets.registry import STUDENTS
from cmx_bench.runner.protocol import JobSettings


def one_run(model: str, fmt: str, profile: bool, out: Path) -> dict:
    job = JobSettings(iterations=100, min_duration_s=2.0, profile_iterations=20 if profile else 0)
    [record] = run_benchmark(BenchOptions(models=[model], formats=[fmt], out_dir=out, job=job)).records
    return record


def _fmt(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cmx-profile-bench-") as folder:
        for model in STUDENTS:
            for fmt in ("pte", "pte-int8"):
                plain, profiled, blocks = [], [], []
                for _ in range(args.rounds):
                    plain.append(one_run(model, fmt, False, Path(folder))["latency"]["stats"]["median_ms"])
                    record = one_run(model, fmt, True, Path(folder))
                    profiled.append(record["latency"]["stats"]["median_ms"])
                    blocks.append(record["profile"])
                within = min(plain) <= statistics.median(profiled) <= max(plain)
                p_value = float(mannwhitneyu(profiled, plain, alternative="two-sided").pvalue)
                coverage = [b["coverage"] for b in blocks]
                row = {"model": model, "format": fmt, "plain_medians_ms": plain, "profiled_medians_ms": profiled,
                       "profiled_median_within_spread": within, "mann_whitney_p": p_value, "coverage": coverage,
                       "coverage_basis": sorted({b["coverage_basis"] for b in blocks}),
                       "timed_coverage": [b["timed_coverage"] for b in blocks],
                       "execute_coverage": [b["execute_coverage"] for b in blocks],
                       "profiling_overhead": [b["profiling_overhead"] for b in blocks],
                       "operator_rows": min(len(b["operators"]) for b in blocks),
                       "coverage_in_target": all(0.85 <= c <= 1.15 for c in coverage),
                       "modules": {k: blocks[-1]["modules"].get(k) for k in ("status", "delegated_rows", "matched",
                                                                             "inserted", "unmapped")}}
                print(json.dumps(row), flush=True)
                rows.append(row)
    print("\n| model | format | median ms without --profile | with --profile | median within spread | p | coverage | "
          "timed coverage | execute coverage | profiling overhead | rows | delegated rows: own node / inserted "
          "layout / unmapped |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        overhead = ", ".join(f"{v:+.0%}" for v in r["profiling_overhead"])
        print(f"| {r['model']} | {r['format']} | {_fmt(r['plain_medians_ms'])} | {_fmt(r['profiled_medians_ms'])} "
              f"| {'yes' if r['profiled_median_within_spread'] else 'NO'} | {r['mann_whitney_p']:.2f} "
              f"| {_fmt(r['coverage'])} "
              f"| {_fmt(r['timed_coverage'])} | {_fmt(r['execute_coverage'])} | {overhead} | {r['operator_rows']} "
              f"| {r['modules']['matched']} / {r['modules']['inserted']} / {r['modules']['unmapped']} |")
    timed = [v for r in rows for v in r["timed_coverage"]]
    print(f"\nmedian plain {statistics.median(v for r in rows for v in r['plain_medians_ms']):.2f} ms; "
          f"profiled medians within spread: {sum(r['profiled_median_within_spread'] for r in rows)} of {len(rows)}, "
          f"shifted at p < 0.05: {sum(r['mann_whitney_p'] < 0.05 for r in rows)} of {len(rows)}; "
          f"coverage in 0.85-1.15: {sum(0.85 <= v <= 1.15 for r in rows for v in r['coverage'])} of "
          f"{sum(len(r['coverage']) for r in rows)} (timed coverage: {sum(0.85 <= v <= 1.15 for v in timed)} of "
          f"{len(timed)})")


if __name__ == "__main__":
    main()
