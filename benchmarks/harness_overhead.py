"""The harness's own cost on the local device: latency with sampling on vs off, and the sampler's CPU use.

Run: python benchmarks/harness_overhead.py [--model squeezenet1_1 --rounds 6 --duration 3]

Runs the same artifact through the local device alternately with the sampler on and off (ABAB...), so
that both see the same machine state, and prints JSON lines plus a summary:
- median latency ratio on/off (target: within 2 %),
- the sampler thread's CPU time over the run's wall time, as % of one core (target: under 1 %).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cmx_bench.bench.inputs import prepare_inputs
from cmx_bench.devices.base import RunSettings
from cmx_bench.devices.local import LocalDevice
from cmx_bench.devices.profiles import get_profile
from cmx_bench.export.formats import FORMATS
from cmx_bench.export.service import cached_artifact
from cmx_bench.nets.checkpoint import random_init_facts
from cmx_bench.nets.registry import build_model, get_card
from cmx_bench.runner.protocol import JobSettings, make_job


def paired_ratio_ci(on: list[float], off: list[float], resamples: int = 5000) -> tuple[float, float, float]:
    """Median of the per-round on/off ratios and its bootstrap 95% CI (rounds pair runs made back to back)."""
    import numpy as np

    ratios = np.asarray(on) / np.asarray(off)
    picks = np.random.default_rng(0).integers(0, len(ratios), size=(resamples, len(ratios)))
    low, high = np.percentile(np.median(ratios[picks], axis=1), [2.5, 97.5])
    return float(low), float(np.median(ratios)), float(high)


def latency_verdict(low: float, high: float) -> str:
    """meets: the whole CI within +/-2 %; misses: the whole CI outside; else the machine was too noisy to say."""
    if 0.98 <= low and high <= 1.02:
        return "meets"
    if low > 1.02 or high < 0.98:
        return "misses"
    return "inconclusive (machine noise wider than the target)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="squeezenet1_1")
    parser.add_argument("--format", default="pte", choices=list(FORMATS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=3.0, help="timed seconds per run")
    args = parser.parse_args()

    card, fmt = get_card(args.model), FORMATS[args.format]
    torch.manual_seed(0)
    artifact = cached_artifact(card, build_model(card), random_init_facts(0), fmt)
    device = LocalDevice(get_profile("local"))
    medians = {True: [], False: []}
    sampler_share = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        prepared = prepare_inputs(card, workdir / "inputs", None, None)
        job = make_job(artifact=str(artifact), fmt=fmt.name, runtime=fmt.runtime, input_shape=card.input_shape,
                       inputs=[str(p) for p in prepared.files],
                       settings=JobSettings(warmup=10, iterations=50, min_duration_s=args.duration, settle_s=0.7))
        for round_index in range(args.rounds):
            for sampling in (True, False) if round_index % 2 == 0 else (False, True):
                settings = RunSettings(sampling=sampling)
                started = time.time()
                run = device.run(artifact, prepared.files, job, settings, workdir)
                wall = time.time() - started
                median = statistics.median(run.runner_result["latencies_ms"])
                medians[sampling].append(median)
                row = {"round": round_index, "sampling": sampling, "median_ms": round(median, 4),
                       "iterations": len(run.runner_result["latencies_ms"])}
                if sampling:
                    share = 100 * run.sampler["sampler_cpu_s"] / wall
                    sampler_share.append(share)
                    row.update(sampler_cpu_s=round(run.sampler["sampler_cpu_s"], 4), wall_s=round(wall, 2),
                               sampler_pct_of_one_core=round(share, 3), samples=run.sampler["samples"])
                print(json.dumps(row), flush=True)
    on, off = statistics.median(medians[True]), statistics.median(medians[False])
    low, mid, high = paired_ratio_ci(medians[True], medians[False])
    summary = {"model": args.model, "format": args.format, "median_ms_sampling_on": round(on, 4),
               "median_ms_sampling_off": round(off, 4), "ratio_on_off": round(on / off, 4),
               "paired_ratio_median": round(mid, 4), "paired_ratio_ci95": [round(low, 4), round(high, 4)],
               "latency_target": "within 2%", "latency_verdict": latency_verdict(low, high),
               "sampler_pct_of_one_core": round(statistics.median(sampler_share), 3),
               "sampler_target": "< 1%", "sampler_verdict": "meets" if statistics.median(sampler_share) < 1 else "misses"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
