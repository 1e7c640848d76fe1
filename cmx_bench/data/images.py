"""Find labelled images (class folders or a manifest CSV) and read them safely."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cmx_bench.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm"}


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: str
    patient_id: str = ""
    source: str = ""
    split: str = ""


def _from_folder(folder: Path, classes: tuple[str, ...]) -> list[LabelledImage]:
    items = []
    for label in classes:
        class_dir = folder / label
        if not class_dir.is_dir():
            raise DataError(f"data folder {folder} has no '{label}' subfolder; expected one folder per class "
                            f"({', '.join(classes)}) or a manifest CSV")
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {class_dir} holds no images; add some or remove the folder")
        # Class folders say nothing of patients: each image is its own, and numbered names that recur in
        # two class folders (covid/1.png, normal/1.png) are two patients, not one.
        items += [LabelledImage(path, label, patient_id=f"{label}/{path.stem}") for path in files]
    return items


def _from_manifest(manifest: Path, classes: tuple[str, ...], skipped: list[str] | None) -> list[LabelledImage]:
    items = []
    with open(manifest, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "label"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"manifest {manifest} lacks column(s) {', '.join(sorted(missing))}; "
                            "expected file,label,patient_id[,source]")
        for row_number, row in enumerate(reader, start=2):
            path = (manifest.parent / row["file"]).resolve()
            problem = None
            if row["label"] not in classes:
                problem = f"manifest {manifest} row {row_number}: label '{row['label']}' is not one of {', '.join(classes)}"
            elif not path.is_file():
                problem = f"manifest {manifest} row {row_number}: file {row['file']} does not exist"
            if problem:
                if skipped is None:
                    raise DataError(problem + "; fix the row or pass --skip-bad")
                skipped.append(problem)
                continue
            items.append(LabelledImage(path, row["label"], row.get("patient_id") or row["file"], row.get("source") or "",
                                       row.get("split") or ""))
    if not items:
        raise DataError(f"manifest {manifest} lists no images")
    return items


def list_images(location: str | Path, classes: tuple[str, ...], split: str | None = None,
                skipped: list[str] | None = None) -> list[LabelledImage]:
    """Labelled images from a folder of class folders or a manifest CSV (only `split` when given).

    With a `skipped` list, bad manifest rows are recorded there instead of stopping (--skip-bad).
    """
    location = Path(location)
    if location.is_dir():
        items = _from_folder(location, classes)
    elif location.is_file() and location.suffix.lower() == ".csv":
        items = _from_manifest(location, classes, skipped)
    else:
        items = None
    if items is not None:
        if split is None:
            return items
        chosen = [item for item in items if item.split == split]
        if not chosen:
            raise DataError(f"data {location} has no images in split '{split}'; make one with 'cmx-bench data prepare'")
        return chosen
    raise DataError(f"data {location} is neither a folder of class folders nor a manifest .csv; check the path")


def listing_sha256(images: list[LabelledImage], location: str | Path) -> str:
    """sha256 of the ordered (path relative to the data location, label) listing: runs on the same images in the
    same order share it wherever the data set lies, so their per-image predictions can be paired."""
    location = Path(location)
    root = (location if location.is_dir() else location.parent).resolve()
    digest = hashlib.sha256()
    for item in images:
        path = Path(item.path).resolve()
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(f"{name}\t{item.label}\n".encode())
    return digest.hexdigest()


def read_grayscale(path: str | Path) -> Image.Image:
    """Open an image (or DICOM) as 8-bit grayscale; DataError naming the file when it is not a readable 8-bit image."""
    if Path(path).suffix.lower() == ".dcm":
        from cmx_bench.data.dicom import read_dicom

        return read_dicom(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                raise DataError(f"image {path} is {image.mode} (16-bit or float); convert it to 8-bit or pass --skip-bad")
            return image.convert("L")
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"image {path} cannot be read ({str(exc)[:100]}); replace or remove it, or pass --skip-bad") from exc


def check_readable(items: list[LabelledImage], skip_bad: bool = False) -> tuple[list[LabelledImage], list[str]]:
    """Open each image's header only (no decode), so that streaming sets still name a bad file before training."""
    kept, skipped = [], []
    for item in items:
        try:
            if Path(item.path).suffix.lower() == ".dcm":
                kept.append(item)  # pydicom reads the whole file: checked when decoded
                continue
            with Image.open(item.path) as image:
                if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    raise DataError(f"image {item.path} is {image.mode} (16-bit or float); convert it to 8-bit or "
                                    "pass --skip-bad")
            kept.append(item)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, DataError) as exc:
            problem = str(exc) if isinstance(exc, DataError) else \
                f"image {item.path} cannot be read ({str(exc)[:100]}); replace or remove it, or pass --skip-bad"
            if not skip_bad:
                raise DataError(problem) from exc
            skipped.append(problem)
    if not kept:
        raise DataError("no readable images left after skipping bad ones; check the data")
    return kept, skipped


def decode_all(items: list[LabelledImage], skip_bad: bool = False) -> tuple[list[LabelledImage], list[Image.Image], list[str]]:
    """Decode every image; a bad one stops with its name, or with skip_bad is left out and reported."""
    kept, images, skipped = [], [], []
    for item in items:
        try:
            images.append(read_grayscale(item.path))
            kept.append(item)
        except DataError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
    if not kept:
        raise DataError("no readable images left after skipping bad ones; check the data")
    return kept, images, skipped
