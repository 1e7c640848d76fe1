"""Bad data: one-line errors naming the file or row, or with skip_bad a count."""

import io

import numpy as np
import pytest
from PIL import Image

from cmx_bench.data.images import LabelledImage, decode_all, list_images, read_grayscale
from cmx_bench.errors import DataError

CLASSES = ("covid", "normal", "pneumonia")


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)  # uint8 -> L, uint16 -> I;16
    return path


def test_not_an_image_truncated_jpeg_and_16_bit_png_are_named(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DataError, match="notes.png cannot be read"):
        read_grayscale(text)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, format="JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match="cut.jpg cannot be read"):
        read_grayscale(truncated)
    deep = _png(tmp_path / "deep.png", np.full((8, 8), 40000, dtype=np.uint16))
    with pytest.raises(DataError, match="deep.png is I"):
        read_grayscale(deep)


def test_skip_bad_counts_instead_of_stopping(tmp_path):
    good = _png(tmp_path / "covid" / "ok.png", np.zeros((8, 8), np.uint8))
    bad = tmp_path / "covid" / "bad.png"
    bad.write_bytes(b"junk")
    items = [LabelledImage(good, "covid"), LabelledImage(bad, "covid")]
    kept, images, skipped = decode_all(items, skip_bad=True)
    assert [k.path for k in kept] == [good] and len(skipped) == 1 and "bad.png" in skipped[0]
    with pytest.raises(DataError, match="bad.png"):
        decode_all(items)


def test_empty_class_folder_missing_manifest_file_and_unknown_label(tmp_path):
    for label in CLASSES:
        (tmp_path / "folders" / label).mkdir(parents=True)
    _png(tmp_path / "folders" / "covid" / "a.png", np.zeros((8, 8), np.uint8))
    _png(tmp_path / "folders" / "normal" / "b.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="pneumonia holds no images"):
        list_images(tmp_path / "folders", CLASSES)
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label,patient_id\nfolders/covid/a.png,covid,p1\nmissing.png,normal,p2\n"
                        "folders/normal/b.png,tuberculosis,p3\n")
    with pytest.raises(DataError, match="row 3: file missing.png does not exist"):
        list_images(manifest, CLASSES)
    skipped = []
    items = list_images(manifest, CLASSES, skipped=skipped)
    assert len(items) == 1 and len(skipped) == 2 and "row 4: label 'tuberculosis'" in skipped[1]
