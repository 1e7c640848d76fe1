"""In-memory training sets: decoded grayscale images, augmented on the fly, normalised as the model card says."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


class CxrDataset(Dataset):
    """(image tensor, label) pairs; a label is a class index or a multi-hot tensor. Random crop and small
    rotation when `augment`."""

    def __init__(self, images: list[Image.Image], labels: list[int], input_size: int, mean, std, augment: bool,
                 seed: int = 0):
        self.input_size, self.augment = input_size, augment
        self.mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(std, dtype=torch.float32)[:, None, None]
        resize = int(round(input_size * 256 / 224))
        self.images = [self._resize(image, resize) for image in images]
        self.labels = list(labels)
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def _resize(image: Image.Image, shorter: int) -> Image.Image:
        w, h = image.size
        scale = shorter / min(w, h)
        return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image, size = self.images[index], self.input_size
        if self.augment:
            image = image.rotate(float(self.rng.uniform(-7, 7)), resample=Image.BILINEAR)
            left = int(self.rng.integers(0, image.width - size + 1))
            top = int(self.rng.integers(0, image.height - size + 1))
        else:
            left, top = (image.width - size) // 2, (image.height - size) // 2
        crop = np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(crop)[None].expand(3, -1, -1)
        label = self.labels[index]
        return (tensor - self.mean) / self.std, torch.as_tensor(label, dtype=torch.float32) if isinstance(
            label, (list, tuple)) else label
