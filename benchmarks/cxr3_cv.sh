#!/usr/bin/env bash
# Real-data cross-validation (not part of CI): recipes compared by 5-fold patient-level cross-validation on the
# train and val splits of ../shared/data/cxr3-v2 (the test split stays locked), each recipe's RF and its distilled
# ShuffleNetV2 scored on every held-out patient, clean and snapshot twins, at one reduced resolution ($SIZE px), each
# recipe at its own epochs; then the recipes paired image by image with `cmx-bench compare` on their pooled
# out-of-fold predictions. Resumable across sessions: run it again and finished folds are kept, a stopped one resumed.
#
#   current: the pipeline's recipe (benchmarks/cxr3_pipeline.sh): cosine schedule, $EPOCHS epochs, clean images and
#            their snapshot twins together, strong augmentation, no BatchNorm refresh, Eq. 2 with --student-loss-at 1
#   issue3:  #3's recipe: 12 epochs, constant rate, light augmentation, clean images only (scored on twins too)
#
# Run: bash benchmarks/cxr3_cv.sh [CXR3_V2_FOLDER] [OUT]   (SIZE=64, EPOCHS=30, FOLDS=5, JOBS=1, CMX=cmx-bench;
#      JOBS=N runs N folds at once, THREADS torch threads each; RECIPES="issue3 current" chooses the recipes, the first the base of the comparisons)
# ARCHIVE=docs/cv/cxr3-v2 keeps each recipe's finished folds (predictions and marks, no checkpoints) in the
# repository (benchmarks/cv_archive.py): restored into OUT before a recipe runs and saved after it, so that a later
# session on a fresh machine resumes where this one stopped (OUT must be the same path: cv checks its settings).
# A stopped run saves nothing: `python benchmarks/cv_archive.py save OUT/cv/RECIPE ARCHIVE/RECIPE` after it.
set -euo pipefail
DATA=${1:-../shared/data/cxr3-v2}
OUT=${2:-runs/cxr3-v2}
CMX=${CMX:-cmx-bench}
SIZE=${SIZE:-64}
EPOCHS=${EPOCHS:-30}
FOLDS=${FOLDS:-5}
JOBS=${JOBS:-1}
THREADS=${THREADS:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
RECIPES=${RECIPES:-issue3 current}
ARCHIVE=${ARCHIVE:-}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT/cv"
step() { local name=$1; shift; local t0=$(date +%s); "$@"; echo "$name $(( $(date +%s) - t0 )) s" | tee -a "$OUT/cv/timings.txt"; }
[ -f "$OUT/split.csv" ] || step prepare $CMX data prepare --manifest "$DATA/manifest.csv" --out "$OUT/split.csv" --seed 0
[ -f "$OUT/snapshots/manifest.csv" ] || step snapshots $CMX data snapshots "$OUT/split.csv" --out "$OUT/snapshots" --seed 0
twins=$OUT/snapshots/manifest.csv
common=(--folds "$FOLDS" --fold-seed 0 --preset cpu --input-size "$SIZE" --jobs "$JOBS" --threads "$THREADS")
recipe_current=(--epochs "$EPOCHS" --snapshots "$twins" --augment strong --bn-refresh off --student-loss-at 1)
recipe_issue3=(--epochs 12 --schedule constant --augment light --eval-snapshots "$twins")
for name in $RECIPES; do
  declare -n options="recipe_$name"
  [ -z "$ARCHIVE" ] || $PYTHON "$(dirname "$0")/cv_archive.py" restore "$OUT/cv/$name" "$ARCHIVE/$name"
  step "cv_$name" $CMX cv "$OUT/split.csv" "${common[@]}" "${options[@]}" --out "$OUT/cv/$name"
  [ -z "$ARCHIVE" ] || $PYTHON "$(dirname "$0")/cv_archive.py" save "$OUT/cv/$name" "$ARCHIVE/$name"
done
# Each later recipe against the first, on the same folds; exit 1 (a significant drop) must not stop the others.
set -- $RECIPES
base=$1; shift
for name in "$@"; do
  code=0
  $CMX compare "$OUT/cv/$base" "$OUT/cv/$name" --markdown "$OUT/cv/compare-$base-vs-$name.md" || code=$?
  [ "$code" -le 1 ] || exit "$code"
done
echo "total $(awk '{s += $2} END {print s}' "$OUT/cv/timings.txt") s" | tee -a "$OUT/cv/timings.txt"
