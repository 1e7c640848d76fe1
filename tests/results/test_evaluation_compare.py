"""compare on two evaluation folders: paired tests on the same images, one-line errors on other images."""

from pathlib import Path

import numpy as np
import pytest

from cmx_bench.data.images import LabelledImage
from cmx_bench.evaluate.predictions import predictions_csv, read_predictions
from cmx_bench.results.evaluation_compare import compare_evaluations
from cmx_bench.results.thresholds import load_thresholds

CLASSES = ("covid", "normal", "pneumonia")
LABELS = np.repeat([0, 1, 2], 20)


def _evaluation(folder: Path, wrong=(), order=None, files=None, seed=0, snapshots=None) -> Path:
    """An evaluation folder whose predictions.csv holds 60 images, those at the indices in `wrong` misclassified;
    with `snapshots` (a folder name), a snapshots set of 60 correctly classified twins under it too."""
    predicted = LABELS.copy()
    predicted[list(wrong)] = (LABELS[list(wrong)] + 1) % 3
    probs = np.full((60, 3), 0.1)
    probs[np.arange(60), predicted] = 0.8
    probs[:, 0] += np.random.default_rng(seed).uniform(0, 0.05, 60)
    files = files or [f"/data/{CLASSES[c]}/{i:03d}.png" for i, c in enumerate(LABELS)]
    order = np.arange(60) if order is None else np.asarray(order)
    items = [LabelledImage(Path(files[i]), CLASSES[LABELS[i]], source="test") for i in order]
    sets = {"clean": {"items": items, "labels": LABELS[order], "probs": probs[order]}}
    if snapshots:
        twins = [LabelledImage(Path(f"/{snapshots}/{i:03d}.png"), CLASSES[c]) for i, c in enumerate(LABELS)]
        sets["snapshots"] = {"items": twins, "labels": LABELS, "probs": np.eye(3)[LABELS] * 0.7 + 0.1}
    folder.mkdir(parents=True)
    (folder / "predictions.csv").write_text(predictions_csv(sets, CLASSES))
    return folder


def test_probabilities_read_back_exactly_even_when_tiny(tmp_path):
    probs = np.array([[1 - 3e-8, 1e-8, 2e-8], [4e-9, 1 - 5e-9, 1e-9]], dtype=np.float32)
    items = [LabelledImage(Path(f"/data/{i}.png"), CLASSES[i]) for i in range(2)]
    (tmp_path / "predictions.csv").write_text(predictions_csv(
        {"clean": {"items": items, "labels": np.array([0, 1]), "probs": probs}}, CLASSES))
    assert np.array_equal(read_predictions(tmp_path)["clean"].probs.astype(np.float32), probs)


def test_predictions_read_back_as_written(tmp_path):
    folder = _evaluation(tmp_path / "a", wrong=[3])
    [(name, read)] = read_predictions(folder).items()
    assert name == "clean" and read.classes == CLASSES and read.labels.tolist() == LABELS.tolist()
    assert read.probs.argmax(1).tolist()[3] == 1 and read.files[0] == str(Path("/data/covid/000.png"))


def test_eight_images_lost_one_way_is_a_regression(cli, tmp_path):
    base = _evaluation(tmp_path / "base")
    current = _evaluation(tmp_path / "current", wrong=range(0, 40, 5))
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    # Four of the eight are COVID images now scored 0.1 for COVID, so the AUROC falls significantly too.
    assert code == 1 and "2 regression(s)" in out
    summary = (tmp_path / "summary.md").read_text()
    assert "**2 regression(s)**" in summary and "8 right in base only, 0 in current only" in summary
    rows = {row["metric"]: row for row in compare_evaluations(base, current, load_thresholds())[0]}
    assert rows["accuracy"]["test"] == "McNemar exact" and rows["accuracy"]["p_value"] == pytest.approx(2 * 0.5 ** 8)
    assert rows["auroc_covid_vs_rest"]["test"] == "paired bootstrap" and rows["auroc_covid_vs_rest"]["regression"]


def test_two_images_that_swap_sides_are_noise_and_order_does_not_matter(cli, tmp_path):
    base = _evaluation(tmp_path / "base", wrong=[0, 1])
    shuffled = np.random.default_rng(3).permutation(60)
    current = _evaluation(tmp_path / "current", wrong=[0, 1, 30, 31], order=shuffled)
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    assert code == 0 and "no regression" in out
    assert "2 right in base only, 0 in current only" in (tmp_path / "summary.md").read_text()


def test_a_set_of_other_images_is_named_and_the_rest_compared(cli, tmp_path):
    # Snapshot twins synthesised again into another folder: the clean images still pair.
    base = _evaluation(tmp_path / "base", snapshots="run-a")
    current = _evaluation(tmp_path / "current", wrong=range(0, 40, 5), snapshots="run-b")
    code, out, _ = cli("compare", base, current, "--markdown", tmp_path / "summary.md")
    assert code == 1 and "not compared:" in out and "set 'snapshots'" in out
    summary = (tmp_path / "summary.md").read_text()
    assert "Not compared: the two evaluations scored other images in set 'snapshots'" in summary
    assert "| clean |" in summary and "| snapshots |" not in summary


def test_a_set_only_one_side_evaluated_is_named_whichever_side_it_is(tmp_path):
    with_twins = _evaluation(tmp_path / "with", snapshots="run-a")
    without = _evaluation(tmp_path / "without")
    rows, unpaired = compare_evaluations(with_twins, without, load_thresholds())
    assert {row["set"] for row in rows} == {"clean"} and unpaired == [f"set 'snapshots' is only in {with_twins}"]
    rows, unpaired = compare_evaluations(without, with_twins, load_thresholds())
    assert {row["set"] for row in rows} == {"clean"} and unpaired == [f"set 'snapshots' is only in {with_twins}"]


def test_other_images_or_a_broken_file_are_one_line_errors(cli, tmp_path):
    base = _evaluation(tmp_path / "base")
    other = _evaluation(tmp_path / "other", files=[f"/elsewhere/{i}.png" for i in range(60)])
    code, _, err = cli("compare", base, other)
    assert code == 2 and "same images" in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "predictions.csv").write_text("set,file,label,p_covid\nclean,a.png,covid,high\n")
    code, _, err = cli("compare", base, broken)
    assert code == 2 and "predictions.csv" in err and "evaluate again" in err
    code, _, err = cli("compare", base, base, base)
    assert code == 2 and "one other evaluation folder" in err
