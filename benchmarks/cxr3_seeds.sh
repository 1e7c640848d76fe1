#!/usr/bin/env bash
# How much of the real-data figures is the training seed: after `bash benchmarks/cxr3_pipeline.sh` (seed 0), trains
# the pipeline's RF and its distilled ShuffleNetV2 again with other seeds (same split, snapshots, cache and recipe;
# each student distils from its own seed's RF), evaluates each network's best.pth (picked on the validation split)
# and last.pth (the end of the cosine schedule) on the test split, clean and snapshots, and prints a Markdown table
# with the pipeline's seed 0 first.
# Run: bash benchmarks/cxr3_seeds.sh [OUT]     (OUT as given to the pipeline; SEEDS="1 2" by default; EPOCHS=30)
set -euo pipefail
OUT=${1:-runs/cxr3}
CMX=${CMX:-cmx-bench}
PY=${PY:-python}
EPOCHS=${EPOCHS:-30}
SEEDS=${SEEDS:-1 2}
recipe=(--data "$OUT/split.csv" --cache "$OUT/cache" --preset cpu --epochs "$EPOCHS"
        --snapshots "$OUT/snapshots/manifest.csv" --augment strong --bn-refresh off)
evaluate() {  # MODEL RUN_DIR: both checkpoints of one run
  local model=$1 run=$2
  for weights in best last; do
    [ -f "$run/eval-$weights/evaluation.json" ] || $CMX evaluate -m "$model" -w "$run/$weights.pth" \
        --data "$OUT/split.csv" --snapshots "$OUT/snapshots/manifest.csv" --gradcam 0 --out "$run/eval-$weights"
  done
}
train() {  # PLAYER RUN_DIR TRAIN-OPTIONS...: a new run, or the rest of one that was stopped (a finished one is kept)
  local player=$1 run=$2; shift 2
  if [ -f "$run/last.pth" ]; then $CMX train "$player" --resume "$run"; else $CMX train "$player" "$@" --out "$run"; fi
}
for seed in $SEEDS; do
  dir=$OUT/seeds/$seed
  train rf "$dir/rf" "${recipe[@]}" --seed "$seed"
  evaluate densenet121 "$dir/rf"
  train ms "$dir/ms" --model shufflenet_v2_x1_0 --teacher "$dir/rf/best.pth" "${recipe[@]}" --student-loss-at 1 \
      --seed "$seed"
  evaluate shufflenet_v2_x1_0 "$dir/ms"
done
# The pipeline's own runs are seed 0; their last.pth is evaluated here too.
evaluate densenet121 "$OUT/rf"
evaluate shufflenet_v2_x1_0 "$OUT/ms"
$PY - "$OUT" $SEEDS <<'PY'
import json, statistics, sys
from pathlib import Path
out, seeds = Path(sys.argv[1]), sys.argv[2:]
runs = {"0": out} | {seed: out / "seeds" / seed for seed in seeds}
print("| network | seed | weights | clean acc | snapshot acc | COVID vs rest AUROC clean / snapshots |")
print("|---|---|---|---|---|---|")
columns = {}
for player in ("rf", "ms"):
    for weights in ("best", "last"):
        for seed, run in runs.items():
            sets = json.loads((run / player / f"eval-{weights}" / "evaluation.json").read_text())["sets"]
            row = (sets["clean"]["accuracy"], sets["snapshots"]["accuracy"],
                   sets["clean"]["auroc"]["covid_vs_rest"], sets["snapshots"]["auroc"]["covid_vs_rest"])
            columns.setdefault((player, weights), []).append(row)
            print(f"| {player} | {seed} | {weights} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} / {row[3]:.3f} |")
        mean = [statistics.mean(c) for c in zip(*columns[(player, weights)])]
        spread = [max(c) - min(c) for c in zip(*columns[(player, weights)])]
        print(f"| {player} | mean (range) | {weights} | {mean[0]:.3f} ({spread[0]:.3f}) | {mean[1]:.3f} ({spread[1]:.3f}) | "
              f"{mean[2]:.3f} ({spread[2]:.3f}) / {mean[3]:.3f} ({spread[3]:.3f}) |")
PY
