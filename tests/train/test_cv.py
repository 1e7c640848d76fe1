"""`cmx-bench cv` on phantoms with two images per patient: 3 fold folders, pooled out-of-fold predictions with every
image once per player, no patient in two folds, a stopped cv resumed to the same predictions, --jobs 2 equal to
--jobs 1, and compare of two cv folders."""

import csv
import json

import pytest

from cmx_bench.data.images import LabelledImage, list_images
from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.data.prepare import prepare_manifest
from cmx_bench.data.snapshot_set import make_snapshot_set
from cmx_bench.train.cv import CvExecution, cv_request, run_cv
from cmx_bench.train.folds import assign_folds, folds_digest, patient_of
from tests.conftest import run_cli

CLASSES = ("covid", "normal", "pneumonia")
# The smallest settings the networks train at: 32 px inputs, 2 epochs (so that a run can stop between them).
RECIPE = ["--preset", "tiny", "--epochs", "2", "--input-size", "32", "--student", "squeezenet1_1"]
EXECUTION = ["--threads", "1", "--workers", "0", "--accelerator", "cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A 7:1:2 manifest of 36 phantoms, two images per patient, patients from two sources; and snapshot twins."""
    root = tmp_path_factory.mktemp("cv-data")
    folder = write_phantom_folder(root / "phantoms", per_class=12, size=40, seed=2)
    items = []
    for item in list_images(folder, CLASSES):
        patient = int(item.path.stem.split("_")[1]) // 2
        items.append(LabelledImage(item.path, item.label, f"{item.label}-{patient}", f"site-{'ab'[patient % 2]}"))
    manifest = root / "split.csv"
    prepare_manifest(manifest, existing=items)
    snapshots = make_snapshot_set(manifest, root / "snapshots")["manifest"]
    return {"root": root, "manifest": manifest, "snapshots": snapshots}


def _cv(data, out, *extra):
    monkeypatch = pytest.MonkeyPatch()
    code, _, _ = run_cli(monkeypatch, None, "cv", data["manifest"], "--folds", "3", "--out", out, *RECIPE,
                         *EXECUTION, *extra)
    monkeypatch.undo()
    assert code == 0, extra
    return out


@pytest.fixture(scope="module")
def cv_one_job(data):
    return _cv(data, data["root"] / "cv-jobs1", "--eval-snapshots", data["snapshots"])


@pytest.fixture(scope="module")
def cv_two_jobs(data):
    return _cv(data, data["root"] / "cv-jobs2", "--eval-snapshots", data["snapshots"], "--jobs", "2")


def _rows(folder):
    with (folder / "predictions.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _cross_validated(data):
    return [i for i in list_images(data["manifest"], CLASSES) if i.split in ("train", "val")]


def test_three_fold_folders_and_every_image_once_per_player(cv_one_job, data):
    assert sorted(p.name for p in cv_one_job.glob("fold-*")) == ["fold-1", "fold-2", "fold-3"]
    assert all((cv_one_job / f"fold-{k}" / "done.json").is_file() for k in (1, 2, 3))
    rows, pool = _rows(cv_one_job), _cross_validated(data)
    twins = [t for t in list_images(data["snapshots"], CLASSES) if t.split in ("train", "val")]
    fold_of = json.loads((cv_one_job / "folds.json").read_text())["fold_of_patient"]
    patient = {str(i.path): patient_of(i) for i in pool + twins}
    for player in ("rf", "ms"):
        for name, images in (("clean", pool), ("snapshots", twins)):
            scored = [r["file"] for r in rows if r["player"] == player and r["set"] == name]
            assert sorted(scored) == sorted(str(i.path) for i in images)  # each once; no test-split image
    # Each image was scored by the fold that held its patient out, the only models that never saw them.
    assert all(int(r["fold"]) == fold_of[patient[r["file"]]] for r in rows)
    summary = json.loads((cv_one_job / "summary.json").read_text())
    assert set(summary["sets"]) == {"rf clean", "rf snapshots", "ms clean", "ms snapshots"}
    rf = summary["sets"]["rf clean"]
    assert rf["pooled"]["images"] == len(pool) and len(rf["folds"]) == 3
    assert set(rf["pooled"]["per_source_accuracy"]) == {"site-a", "site-b"}
    assert rf["pooled"]["ci95"]["auroc"]["covid_vs_rest"] is not None and rf["over_folds"]["accuracy"]["std"] >= 0
    markdown = (cv_one_job / "summary.md").read_text()
    assert "Mean ± standard deviation over folds" in markdown and "Accuracy per source" in markdown
    assert "data:image/png;base64," in (cv_one_job / "summary.html").read_text()


def test_no_patient_is_in_two_folds_and_validation_comes_from_the_training_patients(cv_one_job, data):
    pool = _cross_validated(data)
    folds = json.loads((cv_one_job / "folds.json").read_text())
    assert set(folds["fold_of_patient"]) == {patient_of(i) for i in pool}
    assert folds["digest"] == folds_digest(assign_folds(pool, 3, 0))  # deterministic given the seed
    held_out = []
    for k in (1, 2, 3):
        parts = {name: {patient_of(i) for i in list_images(cv_one_job / f"fold-{k}" / "split.csv", CLASSES, name)}
                 for name in ("train", "val", "test")}
        assert parts["test"] == {p for p, fold in folds["fold_of_patient"].items() if fold == k}
        trained_on = parts["val"] | parts["train"]
        assert parts["val"] and not parts["val"] & parts["train"] and not trained_on & parts["test"]
        assert {i.label for i in pool if patient_of(i) in parts["test"]} == set(CLASSES)  # stratified
        held_out += sorted(parts["test"])
    assert sorted(held_out) == sorted(folds["fold_of_patient"])  # every patient held out once


def test_two_jobs_give_the_pooled_predictions_of_one(cv_one_job, cv_two_jobs):
    assert (cv_two_jobs / "predictions.csv").read_bytes() == (cv_one_job / "predictions.csv").read_bytes()
    assert {json.loads((cv_two_jobs / f"fold-{k}" / "done.json").read_text())["threads"] for k in (1, 2, 3)} == {1}


def test_a_stopped_cv_resumes_to_the_predictions_of_an_uninterrupted_one(cv_one_job, data):
    out = data["root"] / "cv-stopped"
    request = cv_request(None, {"data": data["manifest"], "preset": "tiny", "epochs": 2, "input_size": 32,
                                "model": "squeezenet1_1"}, out=out, folds=3, player="rf")
    epochs = []

    def stop_in_fold_2(row, best):  # fold 1's two epochs, then fold 2's first: Ctrl-C there
        epochs.append(row["epoch"])
        if len(epochs) == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_cv(request, CvExecution(threads=1, workers=0, accelerator="cpu", on_epoch=stop_in_fold_2))
    assert (out / "fold-1" / "done.json").is_file() and not (out / "fold-2" / "done.json").exists()
    assert not (out / "predictions.csv").exists()
    finished = (out / "fold-1" / "done.json").stat().st_mtime_ns

    _cv(data, out, "--player", "rf")
    assert (out / "fold-1" / "done.json").stat().st_mtime_ns == finished  # a finished fold is kept
    history = json.loads((out / "fold-2" / "rf" / "history.json").read_text())
    assert history["meta"]["resumed_at_epochs"] == [2]  # the stopped fold continued from its last epoch
    uninterrupted = [r for r in _rows(cv_one_job) if r["player"] == "rf" and r["set"] == "clean"]
    assert _rows(out) == uninterrupted


def test_a_cv_folder_is_continued_only_with_its_settings(cli, cv_one_job, data):
    code, _, err = cli("cv", data["manifest"], "--folds", "3", "--out", cv_one_job, *RECIPE, "--epochs", "3",
                       *EXECUTION, "--eval-snapshots", data["snapshots"])
    assert code == 1 and len(err.strip().splitlines()) == 1 and "epochs 2 there, 3 now" in err, err


def test_a_manifest_without_a_split_is_refused(cli, data, tmp_path):
    code, _, err = cli("cv", data["root"] / "phantoms", "--folds", "3", "--out", tmp_path / "cv", *RECIPE)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no split column" in err, err


def test_compare_pairs_two_cv_runs_image_by_image(cli, cv_one_job, cv_two_jobs):
    code, out, err = cli("compare", cv_one_job, cv_two_jobs)
    assert code == 0 and "no regression" in out, err
    assert "rf clean" in out and "ms snapshots" in out
