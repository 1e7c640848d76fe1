"""compare on two cv folders: paired per player and set on the pooled predictions (exit 0, or 1 on a significant
drop), and refused with one line and exit 2 when their folds differ or one side is not a cross-validation."""

import csv
import json

import numpy as np

from cmx_bench.results.cv_compare import compare_cv_runs
from cmx_bench.results.thresholds import load_thresholds

CLASSES = ("covid", "normal", "pneumonia")
LABELS = np.repeat([0, 1, 2], 20)


def _cv_folder(folder, wrong=(), digest="same-folds"):
    """A cv folder of 60 pooled images for each of rf and ms, held out over 3 folds; the images at the indices in
    `wrong` misclassified by the student."""
    folder.mkdir(parents=True)
    (folder / "folds.json").write_text(json.dumps({"folds": 3, "digest": digest}))
    with (folder / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["player", "fold", "set", "file", "source", "label", "predicted", "correct",
                         *[f"p_{c}" for c in CLASSES]])
        for player in ("rf", "ms"):
            predicted = LABELS.copy()
            if player == "ms":
                predicted[list(wrong)] = (LABELS[list(wrong)] + 1) % 3
            probs = np.full((60, 3), 0.1)
            probs[np.arange(60), predicted] = 0.8
            probs[:, 0] += np.random.default_rng(1).uniform(0, 0.05, 60)
            for index, label in enumerate(LABELS):
                writer.writerow([player, index % 3 + 1, "clean", f"/data/{CLASSES[label]}/{index:03d}.png", "site",
                                 CLASSES[label], CLASSES[predicted[index]], int(predicted[index] == label),
                                 *[f"{p:.9g}" for p in probs[index]]])
    return folder


def test_two_cv_runs_are_paired_per_player_and_set(cli, tmp_path):
    base, current = _cv_folder(tmp_path / "base"), _cv_folder(tmp_path / "current", wrong=[3, 30])
    rows, unpaired = compare_cv_runs(base, current, load_thresholds())
    assert unpaired == [] and {r["set"] for r in rows} == {"rf clean", "ms clean"}
    student = {r["metric"]: r for r in rows if r["set"] == "ms clean"}
    assert student["accuracy"]["detail"] == "2 right in base only, 0 in current only"
    code, out, _ = cli("compare", base, current)
    assert code == 0 and "no regression" in out  # two images that changed sides are noise


def test_eight_images_lost_by_the_student_is_a_regression(cli, tmp_path):
    base, current = _cv_folder(tmp_path / "base"), _cv_folder(tmp_path / "current", wrong=range(0, 40, 5))
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    assert code == 1 and "regression(s)" in out
    assert "8 right in base only, 0 in current only" in (tmp_path / "summary.md").read_text()


def test_cv_runs_on_other_folds_are_refused_with_one_line(cli, tmp_path):
    base, current = _cv_folder(tmp_path / "base"), _cv_folder(tmp_path / "current", digest="other-folds")
    code, _, err = cli("compare", base, current)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "other folds" in err, err


def test_a_cv_folder_and_an_evaluation_folder_are_refused(cli, tmp_path):
    base = _cv_folder(tmp_path / "base")
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "predictions.csv").write_text((base / "predictions.csv").read_text())
    code, _, err = cli("compare", base, evaluation)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a cross-validation folder" in err, err
