"""The decoded-image cache: built in worker processes, read back exactly, refused with one line once stale."""

import json
import os

import numpy as np
import pytest

from cmx_bench.data.cache import build_cache, open_cache, resize_size_for
from cmx_bench.data.datasets import CachedImages, CxrDataset, ImageFiles
from cmx_bench.data.images import list_images
from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.errors import DataError
from cmx_bench.nets.registry import card_at_input_size, get_card


@pytest.fixture
def manifest(tmp_path):
    folder = write_phantom_folder(tmp_path / "images", per_class=4, size=90, seed=5)
    rows = "".join(f"{p.relative_to(tmp_path)},{p.parent.name},{p.stem},phantom,train\n"
                   for p in sorted(folder.rglob("*.png")))
    path = tmp_path / "manifest.csv"
    path.write_text("file,label,patient_id,source,split\n" + rows)
    return path


def test_cached_samples_equal_decoded_ones(manifest, tmp_path, cli):
    code, out, err = cli("data", "cache", manifest, "--size", "64", "--out", tmp_path / "cache", "--workers", "2")
    assert code == 0, err
    assert "12 images" in out
    items = list_images(manifest, ("covid", "normal", "pneumonia"))
    cache = open_cache(tmp_path / "cache", manifest, 64, items)
    card = card_at_input_size(get_card("mobilenet_v2"), 64)
    assert cache.resize_size == card.resize_size == resize_size_for(64) == 73
    paths, labels = [i.path for i in items], [0] * len(items)
    from_cache = CxrDataset(CachedImages(cache, paths), labels, card, augment="none")
    from_files = CxrDataset(ImageFiles(paths), labels, card, augment="none")
    for index in range(len(items)):
        assert np.array_equal(from_cache[index][0].numpy(), from_files[index][0].numpy())


def test_stale_cache_is_refused_with_one_line(manifest, tmp_path):
    items = list_images(manifest, ("covid", "normal", "pneumonia"))
    build_cache(manifest, tmp_path / "cache", 64, workers=1, items=items)
    with pytest.raises(DataError, match="--input-size 64, this run trains at 96") as caught:
        open_cache(tmp_path / "cache", manifest, 96, items)
    assert "cmx-bench data cache" in str(caught.value) and "\n" not in str(caught.value)
    # A file copied or extracted again (new mtime, same bytes) is still the cached image; the index is restamped.
    touched = items[2].path
    os.utime(touched, ns=(2, 2))
    assert open_cache(tmp_path / "cache", manifest, 64, items).index["images"][2]["stamp"][1] == 2
    index = (tmp_path / "cache" / "index.json").read_text()
    open_cache(tmp_path / "cache", manifest, 64, items)
    assert (tmp_path / "cache" / "index.json").read_text() == index  # nothing to restamp the second time
    assert json.loads(index)["images"][2]["stamp"][1] == 2
    changed = items[3].path
    size = changed.stat().st_size
    with open(changed, "r+b") as handle:  # other bytes, same size: only the content hash can tell
        handle.seek(size - 5)
        handle.write(bytes(5))
    os.utime(changed, ns=(1, 1))
    with pytest.raises(DataError, match="stale: .* changed after the cache was built"):
        open_cache(tmp_path / "cache", manifest, 64, items)
    manifest.write_text(manifest.read_text() + "\n")
    with pytest.raises(DataError, match="another version of"):
        open_cache(tmp_path / "cache", manifest, 64, items)


def test_training_reads_the_cache_and_refuses_a_stale_one(manifest, tmp_path, cli):
    split = tmp_path / "split.csv"
    code, _, err = cli("data", "prepare", "--manifest", manifest, "--out", split)
    assert code == 0, err
    code, _, err = cli("data", "cache", split, "--size", "64", "--out", tmp_path / "cache")
    assert code == 0, err
    args = ["train", "ms", "--model", "squeezenet1_1", "--data", split, "--cache", tmp_path / "cache", "--preset",
            "tiny", "--epochs", "1", "--workers", "0"]
    code, _, err = cli(*args, "--out", tmp_path / "ms")
    assert code == 0, err
    code, _, err = cli(*args, "--input-size", "96", "--out", tmp_path / "ms96")
    assert code == 1 and "cache" in err and len(err.strip().splitlines()) == 1
