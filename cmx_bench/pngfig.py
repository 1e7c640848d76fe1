"""Headless matplotlib (Agg) and figure-to-PNG conversion, shared by report and evaluation figures."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def figure_png(figure) -> bytes:
    """Lay out, render at 100 dpi, close, and return the PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
