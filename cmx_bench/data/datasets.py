"""Training and evaluation sets: images from memory, from files (decoded in loader workers) or from a cache,
augmented on the fly and pre-processed as the model card says."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from cmx_bench.data.augment import POLICIES, augment
from cmx_bench.data.images import read_grayscale
from cmx_bench.errors import DataError
from cmx_bench.data.preprocess import centre_offsets, crop_to_tensor, resize_shorter


class DecodedImages:
    """Images already in memory (small sets, tests)."""

    def __init__(self, images: list[Image.Image]):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def resized(self, index: int, shorter: int) -> Image.Image:
        image = self.images[index]
        return image if min(image.size) == shorter else resize_shorter(image, shorter)


class ImageFiles:
    """Image files, decoded when a sample is asked for (in the DataLoader's worker processes)."""

    def __init__(self, paths: list[str | Path]):
        self.paths = [str(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def resized(self, index: int, shorter: int) -> Image.Image:
        return resize_shorter(read_grayscale(self.paths[index]), shorter)


class CachedImages:
    """Rows of a decoded-image cache (data/cache.py), already at the resize size."""

    def __init__(self, cache, paths: list[str | Path]):
        self.cache, self.rows = cache, [cache.row(p) for p in paths]

    def __len__(self) -> int:
        return len(self.rows)

    def resized(self, index: int, shorter: int) -> Image.Image:
        image = self.cache.image(self.rows[index])
        return image if min(image.size) == shorter else resize_shorter(image, shorter)


class CxrDataset(Dataset):
    """(image tensor, label) pairs; a label is a class index or a multi-hot list. With `augment` "none" a sample
    is exactly what the host pre-processing (data/preprocess.py) makes of the image for the same card; "light" and
    "strong" are the training policies of data/augment.py."""

    def __init__(self, images, labels: list, card, augment: str):
        if isinstance(images, list):  # resized once here rather than at every epoch
            images = DecodedImages([resize_shorter(image, card.resize_size) for image in images])
        if augment not in POLICIES:
            raise ValueError(f"unknown augmentation policy '{augment}'; choose one of: {', '.join(POLICIES)}")
        self.source, self.card, self.augment = images, card, augment
        self.labels = list(labels)
        if len(self.source) != len(self.labels):
            raise ValueError(f"{len(self.source)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        image, size = self.source.resized(index, self.card.resize_size), self.card.input_size
        if self.augment == "none":
            left, top = centre_offsets(image, self.card)
        else:
            image, left, top = augment(image, size, self.augment)
        label = self.labels[index]
        if isinstance(label, (list, tuple)):
            label = torch.as_tensor(label, dtype=torch.float32)
        return crop_to_tensor(image, left, top, self.card), label


def one_line(error: DataError) -> DataError:
    """A DataError raised in a DataLoader worker comes back with the worker's traceback in its message: keep the
    message itself."""
    last = (str(error).strip().splitlines() or [""])[-1]
    return DataError(last.split("DataError: ", 1)[-1])
