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
    """Stated amount, after removing brightness and contrast (both images standardised): an RMS difference
    of 0.2 to 1.0 standard deviations (clearly degraded), and a correlation of at least 0.6 (anatomy kept)."""
    standard = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    for seed in range(4):
        clean = np.asarray(_clean(), dtype=float)
        noisy = np.asarray(snapshot(_clean(), seed=seed), dtype=float)
        rms = np.sqrt(((standard(clean) - standard(noisy)) ** 2).mean())
        correlation = np.corrcoef(clean.ravel(), noisy.ravel())[0, 1]
        assert 0.2 <= rms <= 1.0, (seed, rms)
        assert correlation >= 0.6, (seed, correlation)
