"""Time `compare` over many record pairs (target: 1,000 pairs in under 10 s on a 2-core machine).

Run: python benchmarks/compare_scale.py [--pairs 1000 --samples 200]

Writes BASE and CURRENT sets of synthetic records (different devices x models x formats, raw latency samples)
to a temporary folder, then times loading both sets and comparing them, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from cmx_bench.measure.stats import latency_stats
from cmx_bench.results.compare import compare_records
from cmx_bench.results.record import new_record
from cmx_bench.results.store import load_records, write_record
from cmx_bench.results.thresholds import load_thresholds


def synthetic_record(index: int, shift: float, samples: int, rng) -> dict:
    latencies = list(10 + index % 7 + shift + rng.normal(0, 0.3, samples))
    record = new_record("bench")
    record["config"] = {"device": f"device{index // 30}", "model": f"model{index % 30}", "format": "pte",
                        "warmup": 1, "iterations": samples, "min_duration_s": 0, "threads": 0,
                        "weights": {"source": "random_init"}}
    record["device"] = {"profile": record["config"]["device"], "kind": "local", "serial": "x", "model": "x"}
    record["model"] = {"name": record["config"]["model"], "classes": ["covid", "normal", "pneumonia"], "input_size": 224}
    record["artifact"] = {"format": "pte", "runtime": "executorch", "sha256": "0" * 64}
    record["latency"] = {"samples_ms": latencies, "stats": latency_stats(latencies)}
    record["cpu"], record["memory"] = {"cpu_device_pct": 40.0}, {"pss_peak_mb": 100.0}
    record["energy"] = {"method": "power_model", "energy_per_inference_mj": 5.0}
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        base, current = Path(folder) / "base", Path(folder) / "current"
        for index in range(args.pairs):
            write_record(base, synthetic_record(index, 0.0, args.samples, rng))
            write_record(current, synthetic_record(index, 0.5 if index % 10 == 0 else 0.0, args.samples, rng))
        started = time.perf_counter()
        base_records, current_records = load_records([base]), load_records([current])
        loaded = time.perf_counter()
        result = compare_records(base_records, current_records, load_thresholds())
        finished = time.perf_counter()
    print(json.dumps({"pairs": args.pairs, "samples_per_record": args.samples,
                      "load_s": round(loaded - started, 2), "compare_s": round(finished - loaded, 2),
                      "total_s": round(finished - started, 2), "metric_rows": len(result.rows),
                      "regressions": len(result.regressions), "target_s": 10,
                      "verdict": "meets" if finished - started < 10 else "misses"}))


if __name__ == "__main__":
    main()
