"""The NIH ChestX-ray14 layout for AP pre-training: Data_Entry_2017.csv plus image folders, as multi-hot labels."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from cmx_bench.errors import DataError

# ChestX-ray8's eight diseases, the AP network's outputs (Wang et al. 2017); ChestX-ray14 adds six more.
DISEASES = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax")


@dataclass(frozen=True)
class MultiLabelImage:
    path: Path
    targets: tuple[float, ...]  # one 0/1 per disease, in DISEASES order
    patient_id: str


def _image_index(root: Path) -> dict[str, Path]:
    # The release spreads images over images_001/images/ ... images_012/images/; a flat images/ works too.
    return {path.name: path for path in root.rglob("*.png")}


def read_chestxray14(root: str | Path) -> list[MultiLabelImage]:
    root = Path(root)
    table = root / "Data_Entry_2017.csv"
    if not table.is_file():
        table = next(iter(sorted(root.glob("Data_Entry_*.csv"))), None)
    if table is None:
        raise DataError(f"{root} has no Data_Entry_2017.csv; point --data at the NIH ChestX-ray14 folder")
    images = _image_index(root)
    items = []
    with open(table, newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                name, findings, patient = row["Image Index"], row["Finding Labels"], row["Patient ID"]
            except KeyError as exc:
                raise DataError(f"{table} lacks column {exc}; expected the NIH Data_Entry_2017.csv layout") from exc
            if name not in images:
                continue  # the CSV lists all 112,120 images; a partial download is fine
            labels = set(findings.split("|"))
            items.append(MultiLabelImage(images[name], tuple(float(d in labels) for d in DISEASES), patient))
    if not items:
        raise DataError(f"none of the images listed in {table} were found under {root}")
    return items
