"""Host pre-processing exactly as a model card says, so that every device sees identical tensors."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def resize_shorter(image: Image.Image, shorter: int) -> Image.Image:
    """Scale so that the shorter side is `shorter` pixels (bilinear), keeping the aspect ratio."""
    width, height = image.size
    scale = shorter / min(width, height)
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)


def crop_to_tensor(resized: Image.Image, left: int, top: int, card) -> torch.Tensor:
    """The card's input_size square at (left, top), normalised with the card's mean and std: (C, S, S)."""
    size = card.input_size
    pixels = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    channels = np.stack([pixels] * 3) if card.grayscale_to_rgb else pixels[None]
    mean = np.asarray(card.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(card.std, dtype=np.float32)[:, None, None]
    return torch.from_numpy(((channels - mean) / std).astype(np.float32))


def centre_offsets(resized: Image.Image, card) -> tuple[int, int]:
    return (resized.width - card.input_size) // 2, (resized.height - card.input_size) // 2


def to_tensor(image: Image.Image, card) -> torch.Tensor:
    """Grayscale image -> normalised float32 tensor of the card's input shape (1, 3, S, S): resize, centre crop."""
    resized = resize_shorter(image, card.resize_size)
    return crop_to_tensor(resized, *centre_offsets(resized, card), card)[None]


def write_raw_float32(tensor: torch.Tensor, path) -> None:
    """The runner protocol's input file: raw little-endian float32, C order."""
    tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


def generated_inputs(card, count: int, seed: int = 0) -> list[torch.Tensor]:
    """Pre-processed phantom images, cycling through the classes; for calibration and parity checks."""
    from cmx_bench.data.phantoms import CLASSES, phantom

    return [to_tensor(Image.fromarray(phantom(CLASSES[i % 3], card.resize_size, seed=seed + i), mode="L"), card)
            for i in range(count)]
