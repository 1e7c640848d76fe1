"""Stratified patient-level folds for cross-validation: who is held out where, its digest, and the pooled
out-of-fold predictions read back. Plain Python and NumPy (no torch), so that reports and comparisons may read it."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cmx_bench.data.images import LabelledImage
from cmx_bench.data.split import patient_split
from cmx_bench.errors import DataError
from cmx_bench.evaluate.predictions import PredictionSet

FOLDS_FILE = "folds.json"
PREDICTIONS_FILE = "predictions.csv"
# Within a fold, the share of its training patients (per class, by images) that picks the epoch kept: the paper's
# 7:1 train:val ratio. The held-out fold never sees the choice.
INNER_VAL_SHARE = 1 / 8


def patient_of(item: LabelledImage) -> str:
    """The key that keeps a patient's images together (as data/split.py keys them)."""
    return item.patient_id or str(item.path)


def _patients_by_label(items: list[LabelledImage]) -> dict[str, list[tuple[str, int]]]:
    """Class -> [(patient, images)], each patient under the class most of their images have (as patient_split)."""
    images_of: dict[str, list[LabelledImage]] = defaultdict(list)
    for item in items:
        images_of[patient_of(item)].append(item)
    by_label: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for patient, images in sorted(images_of.items()):
        labels = Counter(image.label for image in images)
        by_label[min(labels, key=lambda name: (-labels[name], name))].append((patient, len(images)))
    return by_label


def assign_folds(items: list[LabelledImage], folds: int, seed: int = 0) -> dict[str, int]:
    """Patient -> fold (1..folds): each class's patients dealt in a seeded random order to the fold that holds the
    fewest images of that class so far (then the fewest images overall), so every fold holds about 1/folds of each
    class and no patient is in two folds. The same images and seed give the same folds."""
    by_label = _patients_by_label(items)
    patients = sum(len(group) for group in by_label.values())
    if folds < 2 or folds > patients:
        raise DataError(f"--folds {folds} does not fit {patients} patients; pass 2 to {patients}")
    rng = np.random.default_rng(seed)
    totals = [0] * folds
    fold_of = {}
    for label in sorted(by_label):
        group, filled = by_label[label], [0] * folds
        for index in rng.permutation(len(group)):
            patient, images = group[index]
            fold = min(range(folds), key=lambda f: (filled[f], totals[f], f))
            fold_of[patient] = fold + 1
            filled[fold] += images
            totals[fold] += images
    return fold_of


def folds_digest(fold_of: dict[str, int]) -> str:
    """sha256 of the sorted (patient, fold) pairs: two cross-validations share it exactly when they held out the
    same patients together."""
    digest = hashlib.sha256()
    for patient, fold in sorted(fold_of.items()):
        digest.update(f"{patient}\t{fold}\n".encode("utf-8"))
    return digest.hexdigest()


def folds_document(fold_of: dict[str, int], folds: int, seed: int, manifest: Path, images: int) -> dict:
    """What folds.json holds: the fold of each patient and the digest of that assignment."""
    return {"folds": folds, "seed": seed, "manifest": str(Path(manifest).resolve()), "images": images,
            "patients": len(fold_of), "digest": folds_digest(fold_of), "fold_of_patient": dict(sorted(fold_of.items()))}


def fold_parts(items: list[LabelledImage], fold_of: dict[str, int], fold: int, seed: int = 0) -> dict[str, list]:
    """One fold's train / val / test: its own patients held out as test, and a stratified patient-level share
    (INNER_VAL_SHARE) of the other patients as the validation set that picks the epoch kept."""
    held_out = [item for item in items if fold_of[patient_of(item)] == fold]
    rest = [item for item in items if fold_of[patient_of(item)] != fold]
    # Seeded per fold, so that each fold's validation patients are drawn independently of the others'.
    inner = patient_split(rest, fractions=(1 - INNER_VAL_SHARE, INNER_VAL_SHARE, 0.0), seed=seed * 1000 + fold)
    return {"train": inner["train"], "val": inner["val"], "test": held_out}


def is_cv_folder(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / FOLDS_FILE).is_file()


@dataclass
class PooledSet(PredictionSet):
    """One player's pooled out-of-fold predictions on one set (clean, snapshots): an evaluation's prediction set,
    with the fold that held each image out and its source."""

    folds: np.ndarray  # the fold that held each image out
    sources: list[str]


def read_pooled_predictions(folder: Path) -> dict[tuple[str, str], PooledSet]:
    """(player, set) -> its pooled predictions, from a cv folder's predictions.csv; DataError naming the file when
    it is missing (the cross-validation has not finished) or not what `cmx-bench cv` writes."""
    path = Path(folder) / PREDICTIONS_FILE
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        classes = tuple(name[2:] for name in (rows[0].keys() if rows else ()) if name.startswith("p_"))
        grouped: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            grouped.setdefault((row["player"], row["set"]), []).append(row)
        return {key: PooledSet([r["file"] for r in group],
                               np.array([classes.index(r["label"]) for r in group], dtype=int),
                               np.array([[float(r[f"p_{c}"]) for c in classes] for r in group]), classes,
                               np.array([int(r["fold"]) for r in group], dtype=int), [r["source"] for r in group])
                for key, group in grouped.items()}
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: the cross-validation in {folder} has not finished; run its "
                        "'cmx-bench cv' command again to finish it") from None
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        raise DataError(f"{path} is not a cross-validation's pooled predictions ({exc}); run 'cmx-bench cv' "
                        "again to rewrite it") from exc
