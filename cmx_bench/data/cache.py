"""A decoded-image cache: every image of a manifest resized once, in worker processes, into one memory-mapped uint8 file.

Layout of a cache folder: `pixels.u8` (the images' grayscale bytes, one after another) and `index.json` (the
manifest's sha256, the input size it serves, and per image its row, offset, width, height and the source
file's size, mtime and sha256). Training reads pixels through numpy's memmap, so the pages are file-backed: the
kernel may drop them under pressure and they never count as the process's anonymous memory.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cmx_bench.data.images import LabelledImage, read_grayscale
from cmx_bench.data.preprocess import resize_shorter
from cmx_bench.errors import DataError, OutputError
from cmx_bench.fileio import sha256_file, write_json_atomic

FORMAT = 1
RESIZE_RATIO = 256 / 224  # the model cards' resize / crop ratio (every card in models/ uses it)


def resize_size_for(input_size: int) -> int:
    return int(round(input_size * RESIZE_RATIO))


def _file_stamp(path: Path) -> list[int]:
    stat = Path(path).stat()
    return [stat.st_size, stat.st_mtime_ns]


def _decode_resized(job: tuple[str, int]) -> tuple[int, int, bytes, str] | str:
    path, shorter = job
    try:
        image = resize_shorter(read_grayscale(path), shorter)
    except DataError as exc:
        return str(exc)
    return image.width, image.height, image.tobytes(), sha256_file(path)


def build_cache(manifest: Path, out_dir: Path, input_size: int, *, workers: int = 1, items=None,
                on_image=None) -> dict:
    """Decode every listed image once (in `workers` processes) to the resize size for `input_size`."""
    from cmx_bench.data.images import list_images

    manifest, out_dir = Path(manifest), Path(out_dir)
    if items is None:
        items = list_images(manifest, ("covid", "normal", "pneumonia"))
    shorter = resize_size_for(input_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    pixels_path = out_dir / "pixels.u8"
    partial = out_dir / f".pixels.u8.{os.getpid()}.tmp"
    entries, offset = [], 0
    jobs = [(str(item.path), shorter) for item in items]
    try:
        with open(partial, "wb") as sink, ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            # map keeps the manifest's order; chunks keep the per-image overhead of the pool small.
            for item, decoded in zip(items, pool.map(_decode_resized, jobs, chunksize=8)):
                if isinstance(decoded, str):
                    raise DataError(decoded)
                width, height, data, digest = decoded
                sink.write(data)
                entries.append({"file": str(item.path), "label": item.label, "patient_id": item.patient_id,
                                "source": item.source, "split": item.split, "offset": offset, "width": width,
                                "height": height, "stamp": _file_stamp(item.path), "sha256": digest})
                offset += len(data)
                if on_image:
                    on_image()
        os.replace(partial, pixels_path)
    finally:
        if partial.exists():
            partial.unlink()
    index = {"format": FORMAT, "manifest": str(manifest.resolve()), "manifest_sha256": sha256_file(manifest),
             "input_size": int(input_size), "resize_size": shorter, "bytes": offset, "images": entries}
    write_json_atomic(out_dir / "index.json", index)
    return {"folder": out_dir, "images": len(entries), "bytes": offset, "resize_size": shorter}


@dataclass
class ImageCache:
    """An opened cache: `image(i)` is the i-th listed image, already resized, read through the memory map."""

    folder: Path
    index: dict

    def __post_init__(self):
        self._pixels = None
        self._row_of = {entry["file"]: row for row, entry in enumerate(self.index["images"])}

    @property
    def resize_size(self) -> int:
        return self.index["resize_size"]

    def row(self, path: str | Path) -> int:
        return self._row_of[str(path)]

    def image(self, row: int) -> Image.Image:
        if self._pixels is None:  # opened lazily, so that each DataLoader worker maps the file itself
            self._pixels = np.memmap(self.folder / "pixels.u8", dtype=np.uint8, mode="r")
        entry = self.index["images"][row]
        size = entry["width"] * entry["height"]
        block = self._pixels[entry["offset"]:entry["offset"] + size]
        return Image.frombuffer("L", (entry["width"], entry["height"]), np.ascontiguousarray(block), "raw", "L", 0, 1)

    def __getstate__(self):
        return {"folder": self.folder, "index": self.index}

    def __setstate__(self, state):
        self.folder, self.index = state["folder"], state["index"]
        self.__post_init__()


def open_cache(folder: Path, manifest: Path, input_size: int, items: list[LabelledImage]) -> ImageCache:
    """The cache at `folder`, refused with one line when it no longer matches `manifest`, its files or the size."""
    folder = Path(folder)
    rebuild = f"rebuild it with 'cmx-bench data cache {manifest} --size {input_size} --out {folder}'"
    try:
        index = json.loads((folder / "index.json").read_text())
        pixels = (folder / "pixels.u8").stat().st_size
    except (OSError, ValueError) as exc:
        raise DataError(f"cache {folder} is missing or unreadable ({exc.__class__.__name__}); {rebuild}") from exc
    if index.get("format") != FORMAT or pixels != index.get("bytes"):
        raise DataError(f"cache {folder} is incomplete or from another cmx-bench version; {rebuild}")
    if index["manifest_sha256"] != sha256_file(manifest):
        raise DataError(f"cache {folder} was built from another version of {manifest}; {rebuild}")
    if index["resize_size"] != resize_size_for(input_size):
        raise DataError(f"cache {folder} holds images for --input-size {index['input_size']}, this run trains at "
                        f"{input_size}; {rebuild}")
    cache, restamped = ImageCache(folder, index), False
    for item in items:
        row = cache._row_of.get(str(item.path))
        if row is None:
            raise DataError(f"cache {folder} lacks {item.path}; {rebuild}")
        entry, stamp = index["images"][row], _file_stamp(item.path)
        if entry["stamp"] != stamp:
            # A copy or a re-extracted archive gives unchanged files new mtimes: then the content decides.
            if stamp[0] != entry["stamp"][0] or entry.get("sha256") != sha256_file(item.path):
                raise DataError(f"cache {folder} is stale: {item.path} changed after the cache was built; {rebuild}")
            entry["stamp"], restamped = stamp, True
    if restamped:
        try:  # so that the next run compares mtimes again instead of hashing every file
            write_json_atomic(folder / "index.json", index)
        except OutputError:
            pass  # a read-only cache stays usable; it is hashed again next time
    return cache
