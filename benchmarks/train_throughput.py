"""Training throughput and memory: cmx-bench's loop against a plain PyTorch loop, cache build scaling, flat memory.

Run: python benchmarks/train_throughput.py [--work DIR] [--rounds 3] [--images 3000] [--check]
     On a GPU (the loop comparison only): --accelerator cuda --precision bf16 --size 224 --batch 64 --steps 30
     --skip cache memory

1. Loop overhead: images/s of RF (DenseNet-121) and ShuffleNetV2 at 128 px through `train_one_epoch` (engine,
   scheduler, grad scaler, loss closure) and through a plain loop written here (same network, Adam, batch 32,
   the same in-memory batches), alternated `--rounds` times; ratio = median cmx-bench / median plain (target
   >= 0.9).
2. Cache build: `data cache` over a synthetic manifest of `--images` radiograph-like 1024 px PNGs (made here, kept
   in --work for reruns) with 1 and with 2 worker processes; speedup = time(1) / time(2) (target >= 1.7).
3. Memory: one training epoch (ShuffleNetV2, 128 px, 2 loader workers, from the cache) over 600 and over all
   images, each in a fresh process; peak anonymous memory (RssAnon, summed over the trainer and its loader
   workers, sampled every 20 ms) must differ by under 100 MB.

Prints one JSON line per measurement, then a Markdown summary. With --check, exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

BATCH, SIZE, STEPS = 32, 128, 6


def plain_epoch(model, batches, optimizer, device, dtype) -> None:
    """The loop a PyTorch user would write: host batches moved to the device, autocast, Adam."""
    model.train()
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()


def cmx_epoch(model, batches, optimizer, config, engine) -> None:
    from cmx_bench.train.loops import classification_batch_loss, make_scheduler, train_one_epoch

    train_one_epoch(model, batches, classification_batch_loss(config), optimizer,
                    make_scheduler(optimizer, config, len(batches)), engine.grad_scaler(), engine)


def _synchronise(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loop_overhead(name: str, rounds: int, engine, size: int, batch: int, steps: int) -> dict:
    from cmx_bench.nets.registry import build_model, get_card
    from cmx_bench.train.engine import PRECISIONS
    from cmx_bench.train.presets import preset

    config = preset("cpu", loss="softmax", schedule="constant")  # the plain loop's loss and learning rate
    generator = torch.Generator().manual_seed(0)
    pin = engine.device.type == "cuda"
    batches = [(torch.randn(batch, 3, size, size, generator=generator), torch.randint(0, 3, (batch,),
                                                                                      generator=generator))
               for _ in range(steps)]
    if pin:
        batches = [(x.pin_memory(), y.pin_memory()) for x, y in batches]
    torch.manual_seed(0)
    model = build_model(get_card(name)).to(engine.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    dtype = PRECISIONS[engine.precision]
    plain_epoch(model, batches[:2], optimizer, engine.device, dtype)  # warm up allocator and kernels
    rates = {"plain": [], "cmx-bench": []}
    for _ in range(rounds):
        for kind in ("plain", "cmx-bench"):
            _synchronise(engine.device)
            started = time.perf_counter()
            if kind == "plain":
                plain_epoch(model, batches, optimizer, engine.device, dtype)
            else:
                cmx_epoch(model, batches, optimizer, config, engine)
            _synchronise(engine.device)
            rates[kind].append(batch * steps / (time.perf_counter() - started))
    ratio = statistics.median(rates["cmx-bench"]) / statistics.median(rates["plain"])
    return {"measure": "loop_overhead", "model": name, "device": str(engine.device), "precision": engine.precision,
            "input_px": size, "batch": batch, "plain_images_per_s": rates["plain"],
            "cmx_images_per_s": rates["cmx-bench"], "ratio": ratio, "target": ">= 0.9", "met": ratio >= 0.9}


def _write_radiograph(job: tuple[str, int]) -> None:
    path, seed = job
    from cmx_bench.data.phantoms import CLASSES, phantom

    rng = np.random.default_rng(seed)
    base = _write_radiograph.bases.setdefault(seed % 24, phantom(CLASSES[seed % 3], 1024, seed=seed % 24))
    noisy = np.clip(base.astype(np.float32) + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy, mode="L").save(path)


_write_radiograph.bases = {}


def synthetic_manifest(work: Path, images: int) -> Path:
    """`images` 1024 px grayscale PNGs (phantoms with per-image noise, so each file decodes as a real one would)."""
    manifest = work / f"manifest-{images}.csv"
    if manifest.is_file():
        return manifest
    folder = work / "png"
    folder.mkdir(parents=True, exist_ok=True)
    classes = ("covid", "normal", "pneumonia")
    jobs = [(str(folder / f"{i:05d}.png"), i) for i in range(images) if not (folder / f"{i:05d}.png").is_file()]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(_write_radiograph, jobs, chunksize=16))
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "patient_id", "split"])
        for i in range(images):
            writer.writerow([f"png/{i:05d}.png", classes[i % 3], f"p{i}", "train" if i % 10 else "val"])
    return manifest


def cache_scaling(manifest: Path, work: Path) -> dict:
    from cmx_bench.data.cache import build_cache

    seconds = {}
    for workers in (1, 2):
        started = time.perf_counter()
        build_cache(manifest, work / f"cache-w{workers}", SIZE, workers=workers)
        seconds[workers] = time.perf_counter() - started
    speedup = seconds[1] / seconds[2]
    return {"measure": "cache_build", "images": sum(1 for _ in open(manifest)) - 1, "seconds_1_worker": seconds[1],
            "seconds_2_workers": seconds[2], "speedup": speedup, "target": ">= 1.7", "met": speedup >= 1.7}


def _rss_anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def epoch_in_child(manifest: Path, cache: Path, limit: int) -> None:
    """Runs in a fresh process: one training epoch over the first `limit` images of the manifest, from the cache."""
    from cmx_bench.data.cache import open_cache
    from cmx_bench.data.datasets import CachedImages, CxrDataset
    from cmx_bench.data.images import list_images
    from cmx_bench.nets.registry import build_model, card_at_input_size, get_card
    from cmx_bench.train.engine import Engine
    from cmx_bench.train.loops import (classification_batch_loss, make_optimizer, make_scheduler, train_loader,
                                       train_one_epoch)
    from cmx_bench.train.presets import preset

    items = list_images(manifest, ("covid", "normal", "pneumonia"))[:limit]
    card = card_at_input_size(get_card("shufflenet_v2_x1_0"), SIZE)
    dataset = CxrDataset(CachedImages(open_cache(cache, manifest, SIZE, items), [i.path for i in items]),
                         [("covid", "normal", "pneumonia").index(i.label) for i in items], card, augment="light")
    config = preset("cpu", batch_size=BATCH)
    engine = Engine(torch.device("cpu"))
    model = build_model(get_card("shufflenet_v2_x1_0"))
    optimizer = make_optimizer(model, config)
    loader = train_loader(dataset, config, engine, 1, workers=2)
    train_one_epoch(model, loader, classification_batch_loss(config), optimizer,
                    make_scheduler(optimizer, config, len(loader)), engine.grad_scaler(), engine)


def peak_anonymous_memory(manifest: Path, cache: Path, limit: int) -> dict:
    import psutil

    child = subprocess.Popen([sys.executable, __file__, "--epoch-child", str(manifest), str(cache), str(limit)])
    peak, started = 0, time.perf_counter()
    process = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            pids = [child.pid] + [c.pid for c in process.children(recursive=True)]
        except psutil.Error:
            pids = [child.pid]
        peak = max(peak, sum(_rss_anon_kb(pid) for pid in pids))
        time.sleep(0.02)
    if child.returncode:
        raise SystemExit(f"the training epoch over {limit} images failed (exit {child.returncode})")
    return {"images": limit, "peak_rss_anon_mb": peak / 1024, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="Folder for the synthetic PNGs and caches (kept for reruns).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    parser.add_argument("--skip", nargs="*", default=[], choices=["loop", "cache", "memory"])
    parser.add_argument("--accelerator", default="cpu", help="Loop comparison on cpu, cuda or mps.")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16 or fp16 for the loop comparison.")
    parser.add_argument("--size", type=int, default=SIZE, help="Input pixels for the loop comparison.")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--steps", type=int, default=STEPS, help="Batches per timed epoch.")
    parser.add_argument("--epoch-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_child:
        return epoch_in_child(Path(args.epoch_child[0]), Path(args.epoch_child[1]), int(args.epoch_child[2]))
    work = args.work or Path(tempfile.mkdtemp(prefix="cmx-train-bench-"))
    results = []
    if "loop" not in args.skip:
        from cmx_bench.train.engine import start_engine

        engine = start_engine(args.accelerator, args.precision)
        for name in ("densenet121", "shufflenet_v2_x1_0"):
            results.append(loop_overhead(name, args.rounds, engine, args.size, args.batch, args.steps))
            print(json.dumps(results[-1]), flush=True)
    if "cache" not in args.skip or "memory" not in args.skip:
        manifest = synthetic_manifest(work, args.images)
    if "cache" not in args.skip:
        results.append(cache_scaling(manifest, work))
        print(json.dumps(results[-1]), flush=True)
    if "memory" not in args.skip:
        cache = work / "cache-w2"
        if not (cache / "index.json").is_file():
            from cmx_bench.data.cache import build_cache
            build_cache(manifest, cache, SIZE, workers=2)
        small, large = (peak_anonymous_memory(manifest, cache, n) for n in (args.images // 5, args.images))
        growth = large["peak_rss_anon_mb"] - small["peak_rss_anon_mb"]
        results.append({"measure": "memory", "small": small, "large": large, "growth_mb": growth,
                        "target": "< 100 MB", "met": abs(growth) < 100})
        print(json.dumps(results[-1]), flush=True)
    print("\n| measure | figures | target | met |\n|---|---|---|---|")
    for r in results:
        if r["measure"] == "loop_overhead":
            figures = (f"{r['model']} ({r['device']}, {r['precision']}, {r['input_px']} px, batch {r['batch']}): "
                       f"cmx-bench {statistics.median(r['cmx_images_per_s']):.1f} img/s, plain "
                       f"{statistics.median(r['plain_images_per_s']):.1f} img/s, ratio {r['ratio']:.3f}")
        elif r["measure"] == "cache_build":
            figures = (f"{r['images']} PNGs: 1 worker {r['seconds_1_worker']:.1f} s, 2 workers "
                       f"{r['seconds_2_workers']:.1f} s, speedup {r['speedup']:.2f}x")
        else:
            figures = (f"peak RssAnon {r['small']['peak_rss_anon_mb']:.0f} MB ({r['small']['images']} images) vs "
                       f"{r['large']['peak_rss_anon_mb']:.0f} MB ({r['large']['images']}), growth "
                       f"{r['growth_mb']:.0f} MB")
        print(f"| {r['measure']} | {figures} | {r['target']} | {'yes' if r['met'] else 'NO'} |")
    if args.check and not all(r["met"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
