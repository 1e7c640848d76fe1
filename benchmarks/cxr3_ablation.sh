#!/usr/bin/env bash
# What moved the distilled student's figures: after `bash benchmarks/cxr3_pipeline.sh` (whose student is the
# reference: cosine schedule, snapshot twins, BatchNorm refresh, $EPOCHS epochs), trains one student per change
# with the same teacher, data and seed, evaluates each on the test split (clean and snapshots), and prints a
# Markdown table with the pipeline's student as the first row.
# Run: bash benchmarks/cxr3_ablation.sh [OUT]     (OUT as given to the pipeline; EPOCHS=30 by default)
set -euo pipefail
OUT=${1:-runs/cxr3}
CMX=${CMX:-cmx-bench}
PY=${PY:-python}
EPOCHS=${EPOCHS:-30}
common=(--model shufflenet_v2_x1_0 --teacher "$OUT/rf/best.pth" --data "$OUT/split.csv" --cache "$OUT/cache"
        --preset cpu)
snap=(--snapshots "$OUT/snapshots/manifest.csv")
variant() {
  local name=$1; shift
  local dir="$OUT/ablation/$name"
  if [ ! -f "$dir/eval/evaluation.json" ]; then
    local t0=$(date +%s)
    $CMX train ms "${common[@]}" "$@" --out "$dir"
    echo "$(( $(date +%s) - t0 ))" > "$dir/train_seconds.txt"
    $CMX evaluate -m shufflenet_v2_x1_0 -w "$dir/best.pth" --data "$OUT/split.csv" \
        --snapshots "$OUT/snapshots/manifest.csv" --gradcam 0 --out "$dir/eval"
  fi
}
variant no-snapshots    --epochs "$EPOCHS"
variant constant-lr     --epochs "$EPOCHS" "${snap[@]}" --schedule constant
variant no-bn-refresh   --epochs "$EPOCHS" "${snap[@]}" --bn-refresh off
variant 12-epochs       --epochs 12 "${snap[@]}"
$PY - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = [("pipeline student (cosine, snapshots, BN refresh, full epochs)", out / "eval-ms", out / "ms")]
rows += [(p.name, p / "eval", p) for p in sorted((out / "ablation").iterdir()) if (p / "eval").is_dir()]
print("| student | clean acc | snapshot acc | COVID vs rest AUROC clean / snapshots | best val (epoch) | train s |")
print("|---|---|---|---|---|---|")
for name, evaluation, run in rows:
    sets = json.loads((evaluation / "evaluation.json").read_text())["sets"]
    history = json.loads((run / "history.json").read_text())
    seconds = sum(r["seconds"] for r in history["history"])
    print(f"| {name} | {sets['clean']['accuracy']:.3f} | {sets['snapshots']['accuracy']:.3f} | "
          f"{sets['clean']['auroc']['covid_vs_rest']:.3f} / {sets['snapshots']['auroc']['covid_vs_rest']:.3f} | "
          f"{history['best']['val_score']:.3f} ({history['best']['epoch']}) | {seconds:.0f} |")
PY
