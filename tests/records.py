"""Build valid run records without running anything, for tests of the reading side."""

from __future__ import annotations

import numpy as np

from cmx_bench.measure.stats import latency_stats
from cmx_bench.results.record import new_record


def make_record(device="local", model="squeezenet1_1", fmt="pte", median=10.0, noise=0.1, n=200, seed=0,
                memory=100.0, accuracy=None, paper=None, run_id="run-test", threads=2, cpu_seconds=0.8, label=None):
    rng = np.random.default_rng(seed)
    samples = list(np.abs(median + rng.normal(0, noise, n)))
    record = new_record(run_id)
    record["config"] = {"device": device, "model": model, "format": fmt, "warmup": 1, "iterations": n,
                        "min_duration_s": 0.0, "threads": 0, "weights": {"source": "random_init"}, "label": label}
    record["device"] = {"profile": device, "kind": "local" if device == "local" else "android", "serial": device,
                        "model": "test cpu"}
    record["model"] = {"name": model, "classes": ["covid", "normal", "pneumonia"], "input_size": 224}
    record["artifact"] = {"format": fmt, "runtime": "executorch", "sha256": "0" * 64, "size_bytes": 5 * 2**20}
    record["latency"] = {"samples_ms": samples, "stats": latency_stats(samples)}
    t = [100.0 + 0.1 * i for i in range(30)]
    record["timeseries"] = {"t": t, "cpu_s": [0.08 * i for i in range(30)], "system_cpu_s": [0.2 * i for i in range(30)],
                            "rss_mb": [memory] * 30, "pss_mb": [memory - 5] * 30, "uss_mb": [memory - 10] * 30}
    record["runner"] = {"phases": {"measure_start": 100.5, "measure_end": 102.5}, "load_ms": 12.0,
                        "runtime": {"name": "executorch", "version": "1.5.1", "threads": threads}}
    record["cpu"] = {"cpu_device_pct": 40.0, "cpu_core_pct": 80.0, "cpu_seconds": cpu_seconds}
    record["memory"] = {"pss_peak_mb": memory - 5, "rss_peak_mb": memory, "pss_delta_mb": 10.0}
    record["energy"] = {"method": "power_model", "note": "test", "energy_per_inference_mj": 5.0, "energy_class": "Heavy"}
    record["accuracy"] = accuracy
    record["paper_reference"] = paper
    return record
