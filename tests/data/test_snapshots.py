import numpy as np
from PIL import Image

from cmx_bench.data.phantoms import phantom
from cmx_bench.data.snapshots import snapshot


def _clean():
    return Image.fromarray(phantom("covid", 128, seed=4), mode="L")


def test_snapshots_are_deterministic_per_image_and_seed():
    clean = _clean()
    first, again, other = snapshot(clean, seed=1), snapshot(clean, seed=1), snapshot(clean, seed=2)
    assert first.mode == "L" and first.size == clean.size
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_snapshot_differs_from_the_clean_image_by_a_stated_amount():
    clean = np.asarray(_clean(), dtype=float)
    noisy = np.asarray(snapshot(_clean(), seed=1), dtype=float)
    mean_abs = np.abs(clean - noisy).mean()
    correlation = np.corrcoef(clean.ravel(), noisy.ravel())[0, 1]
    # Stated amount: a clearly degraded twin (mean |difference| 5-60 grey levels) that keeps the anatomy
    # (correlation with the clean image at least 0.5).
    assert 5 <= mean_abs <= 60, mean_abs
    assert correlation >= 0.5, correlation
