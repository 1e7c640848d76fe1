"""Training-time augmentation policies for grayscale radiographs, drawn from torch's RNG (seeded per loader worker
and saved with a run, so a resumed run draws the same)."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

TRAINING_POLICIES = ("light", "strong")
POLICIES = ("none", *TRAINING_POLICIES)

# "strong": ranges in the spirit of CheXNet-style training, wide enough to blur the intensity and framing habits
# of each source hospital (the shortcut that small multi-source COVID sets invite), narrow enough to keep anatomy.
STRONG_ROTATION_DEG = 10.0
STRONG_MIN_CROP = 0.8          # the crop's side, as a fraction of the image's shorter side
STRONG_GAMMA_LOG = 0.25        # gamma drawn as exp(U(-x, x))
STRONG_CONTRAST = (0.8, 1.25)
STRONG_BRIGHTNESS = 0.08       # shift drawn from U(-x, x), in units of full scale


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


def _random_offsets(image: Image.Image, size: int) -> tuple[int, int]:
    left = int(torch.randint(0, image.width - size + 1, ()))
    top = int(torch.randint(0, image.height - size + 1, ()))
    return left, top


def intensity_table(gamma: float, contrast: float, brightness: float) -> list[int]:
    """A 256-entry lookup table: gamma, then contrast about mid-grey, then a brightness shift, clipped."""
    # Vectorised: it is built once per training sample, in the loader workers.
    x = (np.arange(256) / 255.0) ** gamma
    y = (x - 0.5) * contrast + 0.5 + brightness
    return np.clip(np.rint(y * 255.0), 0, 255).astype(int).tolist()


def augment(image: Image.Image, size: int, policy: str) -> tuple[Image.Image, int, int]:
    """A resized training image -> (image, left, top) of the `size` square that pre-processing crops from it.

    light: a rotation within 7 degrees and a random crop instead of the centre one (the original recipe).
    strong: a rotation within 10 degrees, a random square of 80-100 % of the shorter side scaled to `size`,
    a horizontal flip half of the time, and random gamma, contrast and brightness.
    """
    if policy == "light":
        image = image.rotate(_uniform(-7, 7), resample=Image.BILINEAR)
        return (image, *_random_offsets(image, size))
    if policy != "strong":
        raise ValueError(f"unknown augmentation policy '{policy}'; choose one of: {', '.join(TRAINING_POLICIES)}")
    image = image.rotate(_uniform(-STRONG_ROTATION_DEG, STRONG_ROTATION_DEG), resample=Image.BILINEAR)
    side = max(1, round(min(image.size) * _uniform(STRONG_MIN_CROP, 1.0)))
    left, top = _random_offsets(image, side)
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    if float(torch.rand(())) < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    table = intensity_table(math.exp(_uniform(-STRONG_GAMMA_LOG, STRONG_GAMMA_LOG)), _uniform(*STRONG_CONTRAST),
                            _uniform(-STRONG_BRIGHTNESS, STRONG_BRIGHTNESS))
    return image.point(table), 0, 0
