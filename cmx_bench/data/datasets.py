"""In-memory training sets: decoded grayscale images, augmented on the fly, pre-processed as the model card says."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from cmx_bench.data.preprocess import centre_offsets, crop_to_tensor, resize_shorter


class CxrDataset(Dataset):
    """(image tensor, label) pairs; a label is a class index or a multi-hot list. Without `augment` a sample is
    exactly what the host pre-processing (data/preprocess.py) makes of the image for the same card; with it,
    a small rotation and a random crop instead of the centre one."""

    def __init__(self, images: list[Image.Image], labels: list, card, augment: bool, seed: int = 0):
        self.card, self.augment = card, augment
        self.images = [resize_shorter(image, card.resize_size) for image in images]
        self.labels = list(labels)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image, size = self.images[index], self.card.input_size
        if self.augment:
            image = image.rotate(float(self.rng.uniform(-7, 7)), resample=Image.BILINEAR)
            left = int(self.rng.integers(0, image.width - size + 1))
            top = int(self.rng.integers(0, image.height - size + 1))
        else:
            left, top = centre_offsets(image, self.card)
        label = self.labels[index]
        if isinstance(label, (list, tuple)):
            label = torch.as_tensor(label, dtype=torch.float32)
        return crop_to_tensor(image, left, top, self.card), label
