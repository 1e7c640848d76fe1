"""The image listing's digest: the same images in the same order share it wherever the data set lies."""

import shutil

import numpy as np
from PIL import Image

from cmx_bench.data.images import list_images, listing_sha256

CLASSES = ("covid", "normal", "pneumonia")


def _folder(root, names):
    for label, name in names:
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / label / name)
    return root


def test_listing_digest_follows_the_images_not_the_folder(tmp_path):
    data = _folder(tmp_path / "a", [("covid", "1.png"), ("normal", "2.png"), ("normal", "4.png"), ("pneumonia", "3.png")])
    moved = tmp_path / "elsewhere" / "b"
    shutil.copytree(data, moved)
    digest = listing_sha256(list_images(data, CLASSES), data)
    assert digest == listing_sha256(list_images(moved, CLASSES), moved)
    assert digest != listing_sha256(list(reversed(list_images(data, CLASSES))), data)
    (moved / "normal" / "2.png").rename(moved / "pneumonia" / "2.png")  # same file, other label
    assert digest != listing_sha256(list_images(moved, CLASSES), moved)


def test_listing_digest_of_a_manifest_is_relative_to_its_folder(tmp_path):
    for root in (tmp_path / "x", tmp_path / "y"):
        _folder(root, [("covid", "1.png"), ("normal", "2.png")])
        (root / "manifest.csv").write_text("file,label\ncovid/1.png,covid\nnormal/2.png,normal\n")
    digests = {listing_sha256(list_images(root / "manifest.csv", CLASSES), root / "manifest.csv")
               for root in (tmp_path / "x", tmp_path / "y")}
    assert len(digests) == 1
