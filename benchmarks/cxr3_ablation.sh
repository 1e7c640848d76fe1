#!/usr/bin/env bash
# What moved the figures: after `bash benchmarks/cxr3_pipeline.sh` (whose RF and student are the reference: cosine
# schedule, snapshot twins, strong augmentation, no BatchNorm refresh, $EPOCHS epochs), trains one network per
# change with the same data and seed (students with the pipeline's teacher), evaluates each on the test split
# (clean and snapshots), and prints a Markdown table with the pipeline's networks first. rf-160px trains at
# 160 px from its own cache (built here) instead of 128 px, and ms-160px distils from it at 160 px;
# ms-ema-bn-refresh validates and keeps a moving average of the weights, whose BatchNorm statistics are
# recomputed after each epoch; ms-seed-1 and ms-seed-2 are the pipeline's student with other seeds and the same
# (seed 0) teacher, to tell the student's own seed from its teacher's (benchmarks/cxr3_seeds.sh varies both);
# ms-patient-0/1/2 are a "patient" distillation, the student trained for twice the epochs ($PATIENT_EPOCHS, 60 by
# default) from the seed-0 pipeline RF and from cxr3_seeds.sh's seed-1 and seed-2 RFs (run that script first), each
# with its teacher's seed, to compare with cxr3_seeds.sh's 30-epoch students of the same teachers;
# ms-select-loss-0/1/2 are those 30-epoch students again with --select loss (best.pth is the epoch of lowest
# validation cross-entropy instead of highest validation accuracy; the training itself is the same);
# ms-as-written-0/1/2 are those students with Eq. 2's hard-label loss on the softened outputs, l(S^t(x), y) as the
# paper writes it (--student-loss-at t), instead of the pipeline's l(S(x), y) as in Hinton et al. Every other
# student variant keeps the pipeline's --student-loss-at 1, so each differs from the pipeline's student by one change.
# ms-mobilenet-0/1/2 are the pipeline's student with MobileNetV2 instead of ShuffleNetV2 (the paper's other
# accurate student) and seeds 0, 1, 2, all from the pipeline's teacher; their twins are the pipeline's student,
# ms-seed-1 and ms-seed-2.
# The last column pairs each network's clean test predictions with its reference's (the pipeline's network of its
# kind; for ms-patient-, ms-select-loss- and ms-as-written-1/2 the 30-epoch student of the same teacher; for
# ms-mobilenet-1/2 ms-seed-1/2): images only one of the two gets right, and McNemar's exact p
# (cmx_bench/evaluate/paired.py), since one image is 1.7 points on this test split.
# Run: bash benchmarks/cxr3_ablation.sh [OUT]     (OUT as given to the pipeline; EPOCHS=30 by default;
#      ONLY="rf-light-augment ms-no-snapshots" runs only those variants)
set -euo pipefail
OUT=${1:-runs/cxr3}
CMX=${CMX:-cmx-bench}
PY=${PY:-python}
EPOCHS=${EPOCHS:-30}
PATIENT_EPOCHS=${PATIENT_EPOCHS:-$(( 2 * EPOCHS ))}
ONLY=${ONLY:-}
data=(--data "$OUT/split.csv" --preset cpu)
snap=(--snapshots "$OUT/snapshots/manifest.csv")
variant() {  # NAME PLAYER MODEL TRAIN-OPTIONS...    (cache=FOLDER, teacher_run=RUN variant ...: another input
             # size's cache, another RF to distil from)
  local name=$1 player=$2 model=$3; shift 3
  local dir="$OUT/ablation/$name"
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  if [ ! -f "$dir/eval/evaluation.json" ]; then
    local teacher=()
    [ "$player" = ms ] && teacher=(--model "$model" --teacher "${teacher_run:-$OUT/rf}/best.pth")
    if [ -f "$dir/last.pth" ]; then  # a run stopped before its evaluation: finish it (a finished one is left as is)
      $CMX train "$player" --resume "$dir"
    else
      $CMX train "$player" "${teacher[@]}" "${data[@]}" --cache "${cache:-$OUT/cache}" "$@" --out "$dir"
    fi
    $CMX evaluate -m "$model" -w "$dir/best.pth" --data "$OUT/split.csv" \
        --snapshots "$OUT/snapshots/manifest.csv" --gradcam 0 --out "$dir/eval"
  fi
}
rf=(rf densenet121)
ms=(ms shufflenet_v2_x1_0 --student-loss-at 1)  # the pipeline's Eq. 2 term; a later --student-loss-at overrides it
variant rf-light-augment      "${rf[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment light --bn-refresh off
variant rf-no-snapshots       "${rf[@]}" --epochs "$EPOCHS" --augment strong --bn-refresh off
if [ -z "$ONLY" ] || [[ " $ONLY " == *" rf-160px "* ]] || [[ " $ONLY " == *" ms-160px "* ]]; then
  [ -f "$OUT/cache160/index.json" ] || $CMX data cache "$OUT/split.csv" --size 160 --out "$OUT/cache160" --workers 2
fi
cache=$OUT/cache160 \
variant rf-160px              "${rf[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --input-size 160
variant ms-light-augment      "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment light --bn-refresh off
variant ms-no-snapshots       "${ms[@]}" --epochs "$EPOCHS" --augment strong --bn-refresh off
cache=$OUT/cache160 teacher_run=$OUT/ablation/rf-160px \
variant ms-160px              "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --input-size 160
variant ms-ema-bn-refresh     "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh on --ema 0.98
variant ms-seed-1             "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --seed 1
variant ms-seed-2             "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --seed 2
variant ms-patient-0          "${ms[@]}" --epochs "$PATIENT_EPOCHS" "${snap[@]}" --augment strong --bn-refresh off
for seed in 1 2; do
  teacher_run=$OUT/seeds/$seed/rf \
  variant "ms-patient-$seed"    "${ms[@]}" --epochs "$PATIENT_EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --seed "$seed"
done
variant ms-select-loss-0      "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --select loss
for seed in 1 2; do
  teacher_run=$OUT/seeds/$seed/rf \
  variant "ms-select-loss-$seed" "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --seed "$seed" \
          --select loss
done
variant ms-as-written-0       "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --student-loss-at t
for seed in 1 2; do
  teacher_run=$OUT/seeds/$seed/rf \
  variant "ms-as-written-$seed" "${ms[@]}" --epochs "$EPOCHS" "${snap[@]}" --augment strong --bn-refresh off --seed "$seed" \
          --student-loss-at t
done
for seed in 0 1 2; do
  variant "ms-mobilenet-$seed"  ms mobilenet_v2 --student-loss-at 1 --epochs "$EPOCHS" "${snap[@]}" --augment strong \
          --bn-refresh off --seed "$seed"
done
$PY - "$OUT" <<'PY'
import json, sys
from pathlib import Path
from cmx_bench.evaluate.paired import mcnemar_exact
from cmx_bench.evaluate.predictions import read_predictions
out = Path(sys.argv[1])


def against(evaluation: Path, reference: Path) -> str:
    """Clean test images right only in this network / only in its reference, and McNemar's exact p."""
    if evaluation == reference or not (evaluation / "predictions.csv").is_file() \
            or not (reference / "predictions.csv").is_file():
        return ""
    mine, theirs = read_predictions(evaluation)["clean"], read_predictions(reference)["clean"]
    if sorted(mine.files) != sorted(theirs.files):
        return "other images"
    order = [theirs.files.index(f) for f in mine.files]
    test = mcnemar_exact(theirs.probs[order].argmax(1) == mine.labels, mine.probs.argmax(1) == mine.labels)
    return f"+{test['only_current_right']} / -{test['only_base_right']}, p {test['p_value']:.2f}"


def reference_of(name: str) -> Path:
    """The network a variant is judged against: the pipeline's of its kind; a patient, loss-selected or as-written
    student of the seed-1 or seed-2 teacher, the 30-epoch student of the same teacher (benchmarks/cxr3_seeds.sh);
    a MobileNetV2 student of seed 1 or 2, the ShuffleNetV2 student of the same seed and teacher."""
    if name.startswith("ms-mobilenet-") and not name.endswith("-0"):
        return out / "ablation" / f"ms-seed-{name.rsplit('-', 1)[1]}" / "eval"
    if name.startswith(("ms-patient-", "ms-select-loss-", "ms-as-written-")) and not name.endswith("-0"):
        return out / "seeds" / name.rsplit("-", 1)[1] / "ms" / "eval-best"
    return out / ("eval-rf" if name.startswith("rf") else "eval-ms")


rows = [("rf-pipeline", out / "eval-rf", out / "rf"), ("ms-pipeline", out / "eval-ms", out / "ms")]
ablation = out / "ablation"
rows += [(p.name, p / "eval", p) for p in sorted(ablation.iterdir(), key=lambda p: (p.name[:2] != "rf", p.name)) if (p / "eval").is_dir()] \
    if ablation.is_dir() else []
print("| network | clean acc | snapshot acc | COVID vs rest AUROC clean / snapshots | best val (epoch) | train s | "
      "clean images right only here / only in the reference, McNemar p |")
print("|---|---|---|---|---|---|---|")
for name, evaluation, run in rows:
    sets = json.loads((evaluation / "evaluation.json").read_text())["sets"]
    history = json.loads((run / "history.json").read_text())
    seconds = sum(r["seconds"] for r in history["history"])
    print(f"| {name} | {sets['clean']['accuracy']:.3f} | {sets['snapshots']['accuracy']:.3f} | "
          f"{sets['clean']['auroc']['covid_vs_rest']:.3f} / {sets['snapshots']['auroc']['covid_vs_rest']:.3f} | "
          f"{history['best']['val_score']:.3f} ({history['best']['epoch']}) | {seconds:.0f} | "
          f"{against(evaluation, reference_of(name))} |")
PY
