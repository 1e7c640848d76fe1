"""Synthetic chest-like 3-class images (clear lungs, focal lobar opacity, bilateral peripheral ground-glass)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("covid", "normal", "pneumonia")


def _grid(size: int):
    coords = (np.arange(size) + 0.5) / size
    return np.meshgrid(coords, coords)  # x, y in [0, 1]


def _blob(x, y, cx, cy, rx, ry):
    return np.exp(-(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2))


def phantom(label: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """One 8-bit grayscale phantom of class `label`; deterministic for (label, size, seed)."""
    if label not in CLASSES:
        raise ValueError(f"label {label!r} is not one of {CLASSES}")
    rng = np.random.default_rng([seed, CLASSES.index(label), size])
    x, y = _grid(size)
    body = 0.55 + 0.04 * rng.standard_normal()
    img = np.full((size, size), body)
    # Dark lung fields, one per side, with a little variation in shape and position.
    lungs = []
    for side in (-1, 1):
        cx = 0.5 + side * (0.2 + 0.02 * rng.standard_normal())
        lung = _blob(x, y, cx, 0.48 + 0.02 * rng.standard_normal(), 0.13, 0.3) > 0.35
        lungs.append((cx, lung))
        img = np.where(lung, img - 0.35, img)
    img += 0.15 * _blob(x, y, 0.5, 0.45, 0.06, 0.4)  # mediastinum
    for rib in np.linspace(0.25, 0.75, 6):  # ribs
        img += 0.05 * np.exp(-((y - rib - 0.05 * np.abs(x - 0.5)) / 0.01) ** 2)
    if label == "pneumonia":  # one dense focal lobar opacity
        cx, lung = lungs[rng.integers(2)]
        cy = 0.55 + 0.12 * rng.uniform(-1, 1)
        img += 0.45 * _blob(x, y, cx + 0.03 * rng.standard_normal(), cy, 0.06, 0.08) * lung
    elif label == "covid":  # bilateral, peripheral, hazy ground-glass
        for cx, lung in lungs:
            edge = cx + np.sign(cx - 0.5) * 0.08
            haze = _blob(x, y, edge, 0.6 + 0.05 * rng.standard_normal(), 0.09, 0.22)
            img += 0.45 * haze * lung * (1 + 0.3 * rng.standard_normal((size, size)))
    img += 0.02 * rng.standard_normal((size, size))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write_phantom_folder(folder: str | Path, per_class: int, size: int = 256, seed: int = 0) -> Path:
    """Write `per_class` PNGs into folder/<class>/ and return the folder."""
    folder = Path(folder)
    for label in CLASSES:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = phantom(label, size, seed=seed * 100003 + index)
            Image.fromarray(image, mode="L").save(folder / label / f"{label}_{index:04d}.png")
    return folder
