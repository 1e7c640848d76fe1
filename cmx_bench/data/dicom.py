"""Read DICOM radiographs as 8-bit grayscale: modality LUT, VOI LUT or window, MONOCHROME1 inverted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cmx_bench.errors import DataError


def read_dicom(path: str | Path) -> Image.Image:
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DataError(f"DICOM {path} cannot be read ({str(exc)[:100]}); replace or remove it") from exc
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if getattr(dataset, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        scaled = 1.0 - scaled  # MONOCHROME1 stores bright as low values
    return Image.fromarray((scaled * 255).round().astype(np.uint8), mode="L")
