"""Build a 3-class manifest (file,label,patient_id,source,split) from the public sources' own layouts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from cmx_bench.data.images import IMAGE_SUFFIXES, LabelledImage
from cmx_bench.data.split import patient_split
from cmx_bench.errors import DataError
from cmx_bench.fileio import write_text_atomic

MANIFEST_COLUMNS = ("file", "label", "patient_id", "source", "split")


def from_covid_chestxray(root: Path) -> list[LabelledImage]:
    """ieee8023/covid-chestxray-dataset: metadata.csv + images/; X-rays only, COVID-19 / other pneumonia / No Finding."""
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise DataError(f"{root} has no metadata.csv; point --covid-chestxray at a covid-chestxray-dataset checkout")
    items = []
    with open(metadata, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("modality", "X-ray") != "X-ray" or row.get("view", "PA") not in ("PA", "AP", "AP Supine"):
                continue
            finding = row.get("finding", "")
            if "COVID-19" in finding:
                label = "covid"
            elif "Pneumonia" in finding:
                label = "pneumonia"
            elif finding == "No Finding":
                label = "normal"
            else:
                continue
            path = root / row.get("folder", "images") / row["filename"]
            if path.is_file():
                items.append(LabelledImage(path, label, f"ieee-{row['patientid']}", "ieee8023/covid-chestxray-dataset"))
    return items


def _kermany_patient(name: str) -> str:
    # person1_bacteria_1.jpeg -> person1; IM-0115-0001.jpeg -> IM-0115; NORMAL2-IM-1427-0001.jpeg -> NORMAL2-IM-1427
    match = re.match(r"(person\d+)_", name) or re.match(r"((?:NORMAL2-)?IM-\d+)-", name)
    return match.group(1) if match else Path(name).stem


def from_kermany(root: Path) -> list[LabelledImage]:
    """Kermany et al. 'Chest X-Ray Images (Pneumonia)': {train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg."""
    items = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.parent.name.upper() not in ("NORMAL", "PNEUMONIA"):
            continue
        label = "normal" if path.parent.name.upper() == "NORMAL" else "pneumonia"
        items.append(LabelledImage(path, label, f"kermany-{_kermany_patient(path.name)}", "kermany2018"))
    if not items:
        raise DataError(f"{root} holds no NORMAL/ or PNEUMONIA/ image folders; point --kermany at chest_xray/")
    return items


def from_rsna(root: Path) -> list[LabelledImage]:
    """RSNA pneumonia challenge: stage_2_detailed_class_info.csv + stage_2_train_images/*.dcm."""
    info = root / "stage_2_detailed_class_info.csv"
    if not info.is_file():
        raise DataError(f"{root} has no stage_2_detailed_class_info.csv; point --rsna at the challenge folder")
    labels = {}
    with open(info, newline="") as handle:
        for row in csv.DictReader(handle):
            labels[row["patientId"]] = {"Normal": "normal", "Lung Opacity": "pneumonia"}.get(row["class"])
    items = []
    for patient, label in sorted(labels.items()):
        path = root / "stage_2_train_images" / f"{patient}.dcm"
        if label and path.is_file():
            items.append(LabelledImage(path, label, f"rsna-{patient}", "rsna-pneumonia"))
    return items


def write_manifest(items_by_split: dict[str, list[LabelledImage]], out: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MANIFEST_COLUMNS)
    for split, items in items_by_split.items():
        for item in items:
            writer.writerow([Path(item.path).resolve(), item.label, item.patient_id, item.source, split])
    return write_text_atomic(out, buffer.getvalue())


def prepare_manifest(out: Path, *, covid_chestxray: Path | None = None, kermany: Path | None = None,
                     rsna: Path | None = None, existing: list[LabelledImage] | None = None,
                     fractions=(0.7, 0.1, 0.2), seed: int = 0) -> dict[str, dict[str, int]]:
    """Collect the sources, split by patient (7:1:2 by default) and write the manifest; returns counts."""
    items = list(existing or [])
    for root, reader in ((covid_chestxray, from_covid_chestxray), (kermany, from_kermany), (rsna, from_rsna)):
        if root is not None:
            items += reader(Path(root))
    if not items:
        raise DataError("no sources given; pass --manifest, --covid-chestxray, --kermany or --rsna")
    parts = patient_split(items, fractions, seed)
    write_manifest(parts, out)
    return {split: {label: sum(1 for i in images if i.label == label) for label in ("covid", "normal", "pneumonia")}
            for split, images in parts.items()}
