"""Make the snapshot twin of a data set: one noisy image per clean one, a manifest linking them, a contact sheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image

from cmx_bench.data.images import decode_all, list_images
from cmx_bench.data.snapshots import snapshot
from cmx_bench.fileio import write_bytes_atomic, write_text_atomic

CLASSES = ("covid", "normal", "pneumonia")


def contact_sheet(pairs: list[tuple[Image.Image, Image.Image]], tile: int = 160) -> bytes:
    """Clean (left) and snapshot (right) pairs, one pair per row."""
    sheet = Image.new("L", (2 * tile, tile * len(pairs)), color=255)
    for row, (clean, noisy) in enumerate(pairs):
        sheet.paste(clean.resize((tile, tile)), (0, row * tile))
        sheet.paste(noisy.resize((tile, tile)), (tile, row * tile))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def make_snapshot_set(data: Path, out_dir: Path, *, seed: int = 0, skip_bad: bool = False, on_image=None,
                      sheet_pairs: int = 6) -> dict:
    skipped = [] if skip_bad else None
    items = list_images(data, CLASSES, skipped=skipped)
    kept, images, bad = decode_all(items, skip_bad=skip_bad)
    rows, pairs = [], []
    for item, clean in zip(kept, images):
        noisy = snapshot(clean, seed=seed)
        target = Path(out_dir) / item.label / (Path(item.path).stem + ".png")
        buffer = io.BytesIO()
        noisy.save(buffer, format="PNG")
        write_bytes_atomic(target, buffer.getvalue())
        rows.append([str(target.resolve()), item.label, item.patient_id, item.source, item.split,
                     str(Path(item.path).resolve())])
        if len(pairs) < sheet_pairs:
            pairs.append((clean, noisy))
        if on_image:
            on_image()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "label", "patient_id", "source", "split", "clean_file"])
    writer.writerows(rows)
    manifest = write_text_atomic(Path(out_dir) / "manifest.csv", buffer.getvalue())
    sheet = write_bytes_atomic(Path(out_dir) / "contact_sheet.png", contact_sheet(pairs))
    return {"manifest": manifest, "contact_sheet": sheet, "images": len(rows), "skipped": (skipped or []) + bad}
