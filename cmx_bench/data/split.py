"""Stratified patient-level splits (the paper's 7:1:2 by default): no patient's images in two parts."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from cmx_bench.data.images import LabelledImage
from cmx_bench.errors import DataError

SPLITS = ("train", "val", "test")


def parse_split_ratio(text: str) -> tuple[float, float, float]:
    """'7:1:2' -> (0.7, 0.1, 0.2): a TRAIN:VAL:TEST ratio as fractions of the whole."""
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) != 3 or not all(part > 0 and np.isfinite(part) for part in parts):
        raise DataError(f"split ratio {text!r} is not three positive numbers TRAIN:VAL:TEST; give e.g. --split 7:1:2")
    total = sum(parts)
    return tuple(part / total for part in parts)


def patient_split(items: list[LabelledImage], fractions=(0.7, 0.1, 0.2), seed: int = 0) -> dict[str, list[LabelledImage]]:
    """Assign whole patients to train / val / test so that each class's image counts follow `fractions`.

    A patient with images of two classes (a COVID study and a later clear one) is drawn with the class most of
    their images have, and all their images go to one part."""
    images_of_patient: dict[str, list[LabelledImage]] = defaultdict(list)
    for item in items:
        images_of_patient[item.patient_id or str(item.path)].append(item)
    patients_by_label: dict[str, dict[str, list[LabelledImage]]] = defaultdict(dict)
    for patient, images in images_of_patient.items():
        labels = Counter(image.label for image in images)
        label = min(labels, key=lambda name: (-labels[name], name))
        patients_by_label[label][patient] = images
    rng = np.random.default_rng(seed)
    parts = {name: [] for name in SPLITS}
    for label in sorted(patients_by_label):
        patients = sorted(patients_by_label[label].items())
        order = rng.permutation(len(patients))
        total = sum(len(images) for _, images in patients)
        targets = [fraction * total for fraction in fractions]
        filled = [0, 0, 0]
        for index in order:
            _, images = patients[index]
            # Give the patient to the part furthest below its target share.
            part = int(np.argmax([(t - f) / t if t else -1 for t, f in zip(targets, filled)]))
            parts[SPLITS[part]] += images
            filled[part] += len(images)
    check_disjoint_patients(parts)
    return parts


def check_disjoint_patients(parts: dict[str, list[LabelledImage]]) -> None:
    owner = {}
    for name, images in parts.items():
        for item in images:
            key = item.patient_id or str(item.path)
            if owner.setdefault(key, name) != name:
                raise DataError(f"patient {key} is in both {owner[key]} and {name}; the split leaks patients")
