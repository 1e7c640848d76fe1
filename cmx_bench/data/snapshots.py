"""Synthesise the paper's noisy phone snapshots: a CXR shown on a screen and re-captured with a phone camera."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class SnapshotSettings:
    display_gamma: float = 2.2
    screen_pixel_pitch: float = 3.0      # screen pixels drawn as RGB sub-pixel triplets this many camera pixels wide
    capture_ratio: tuple[float, float] = (0.83, 0.91)  # non-integer resampling ratio: moire
    rotation_deg: tuple[float, float] = (-3.0, 3.0)
    perspective: float = 0.04            # corner displacement as a fraction of the image size
    blur_sigma: tuple[float, float] = (0.3, 0.8)
    motion_blur_probability: float = 0.3
    shot_noise_photons: float = 400.0    # Poisson: photons at full white
    read_noise: float = 0.01             # Gaussian, in [0, 1] intensity units
    brightness: tuple[float, float] = (0.85, 1.1)
    white_balance: float = 0.08          # per-channel gain spread
    jpeg_quality: tuple[int, int] = (70, 90)


def _rng(image: Image.Image, seed: int) -> np.random.Generator:
    # Deterministic per (image content, seed): the same clean image always gets the same twin.
    digest = hashlib.sha256(image.tobytes() + seed.to_bytes(8, "little", signed=True)).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _on_screen(gray: np.ndarray, s: SnapshotSettings) -> Image.Image:
    """The image as emitted by an LCD: gamma, then each pixel drawn as R, G, B stripes with dark gaps."""
    linear = gray ** s.display_gamma
    pitch = max(3, int(round(s.screen_pixel_pitch)))
    big = np.repeat(np.repeat(linear, pitch, axis=0), pitch, axis=1)
    rgb = np.zeros(big.shape + (3,), dtype=np.float32)
    columns = np.arange(big.shape[1]) % pitch
    for channel in range(3):
        rgb[:, columns == channel % pitch, channel] = big[:, columns == channel % pitch]
    rgb[np.arange(big.shape[0]) % pitch == pitch - 1] *= 0.3  # the black matrix between pixel rows
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), mode="RGB")


def _perspective_coefficients(size, rng, amount):
    w, h = size
    jitter = lambda: rng.uniform(-amount, amount)  # noqa: E731
    src = [(jitter() * w, jitter() * h), (w + jitter() * w, jitter() * h), (w + jitter() * w, h + jitter() * h),
           (jitter() * w, h + jitter() * h)]
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    matrix, vector = [], []
    for (x, y), (u, v) in zip(dst, src):
        matrix += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        vector += [u, v]
    return np.linalg.solve(np.asarray(matrix, float), np.asarray(vector, float)).tolist()


def snapshot(clean: Image.Image, seed: int = 0, settings: SnapshotSettings = SnapshotSettings()) -> Image.Image:
    """The noisy 8-bit grayscale twin of a clean CXR, deterministic for (image, seed)."""
    s = settings
    rng = _rng(clean, seed)
    gray = np.asarray(clean.convert("L"), dtype=np.float32) / 255.0
    size = clean.size
    screen = _on_screen(gray, s)
    # The camera samples the screen at a non-integer, slightly rotated ratio: the pixel grid aliases into moire.
    ratio = rng.uniform(*s.capture_ratio)
    captured = screen.rotate(rng.uniform(*s.rotation_deg), resample=Image.BILINEAR, expand=False)
    captured = captured.resize((int(size[0] * ratio * 1.1), int(size[1] * ratio * 1.1)), Image.BILINEAR)
    captured = captured.transform(captured.size, Image.PERSPECTIVE,
                                  _perspective_coefficients(captured.size, rng, s.perspective), Image.BILINEAR)
    if rng.uniform() < s.motion_blur_probability:
        length = int(rng.choice([3, 5]))  # PIL kernels are 3x3 or 5x5: a horizontal streak through the middle row
        kernel = [0.0] * (length * length)
        kernel[length * (length // 2): length * (length // 2 + 1)] = [1.0 / length] * length
        captured = captured.filter(ImageFilter.Kernel((length, length), kernel))
    captured = captured.filter(ImageFilter.GaussianBlur(rng.uniform(*s.blur_sigma)))
    pixels = np.asarray(captured, dtype=np.float32) / 255.0
    # Auto-exposure: the camera brightens the sub-pixel-striped, dimmer screen back to its full range.
    pixels = pixels / max(float(np.percentile(pixels, 99.5)), 1e-3) * 0.95
    pixels = pixels * rng.uniform(*s.brightness) * (1 + rng.uniform(-s.white_balance, s.white_balance, 3))
    photons = rng.poisson(np.clip(pixels, 0, None) * s.shot_noise_photons) / s.shot_noise_photons
    pixels = photons + rng.normal(0.0, s.read_noise, pixels.shape)
    pixels = np.clip(pixels, 0, 1) ** (1 / s.display_gamma)  # the camera's own tone curve
    buffer = io.BytesIO()
    Image.fromarray((pixels * 255).astype(np.uint8), mode="RGB").save(
        buffer, format="JPEG", quality=int(rng.integers(*s.jpeg_quality)))
    # The paper converts each snapshot to 8-bit grayscale, removing colour and brightness effects.
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L").resize(size, Image.BILINEAR)
