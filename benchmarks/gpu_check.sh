#!/usr/bin/env bash
# The GPU check of training at scale (for a machine with CUDA; about 5 minutes on one H100/H200):
# 1. cmx-bench's training loop against a plain PyTorch loop in the same process, 224 px, bf16, images/s and ratio
#    (target >= 0.9) for DenseNet-121 (RF) and ShuffleNetV2;
# 2. a few epochs of `train rf --accelerator cuda --precision bf16` on phantoms, then `evaluate` on CUDA.
# Run: bash benchmarks/gpu_check.sh [OUT]
set -euo pipefail
OUT=${1:-runs/gpu-check}
CMX=${CMX:-cmx-bench}
PY=${PY:-python}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
$PY benchmarks/train_throughput.py --accelerator cuda --precision bf16 --size 224 --batch 64 --steps 30 \
    --rounds 3 --skip cache memory | tee "$OUT/loop.txt"
$CMX data phantoms --out "$OUT/phantoms" --per-class 64 --size 256 --seed 1
$CMX data prepare --manifest "$OUT/phantoms" --out "$OUT/split.csv"
$CMX train rf --data "$OUT/split.csv" --preset tiny --input-size 224 --epochs 3 --batch-size 32 \
    --accelerator cuda --precision bf16 --workers 4 --out "$OUT/rf" | tee "$OUT/train.txt"
$CMX evaluate -m densenet121 -w "$OUT/rf/best.pth" --data "$OUT/split.csv" --accelerator cuda --precision bf16 \
    --gradcam 0 --out "$OUT/eval" | tee "$OUT/eval.txt"
grep -o '"engine": {[^}]*}' "$OUT/rf/history.json" | tee "$OUT/engine.txt"
