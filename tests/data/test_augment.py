import numpy as np
import pytest
import torch
from PIL import Image

from cmx_bench.data.augment import augment, intensity_table
from cmx_bench.data.datasets import CxrDataset
from cmx_bench.data.phantoms import phantom
from cmx_bench.nets.registry import card_at_input_size, get_card


def _image(size=80):
    return Image.fromarray(phantom("covid", size, seed=1))


@pytest.mark.parametrize("policy", ["light", "strong"])
def test_a_policy_gives_the_input_square_and_repeats_under_the_same_seed(policy):
    card = card_at_input_size(get_card("shufflenet_v2_x1_0"), 64)
    dataset = CxrDataset([_image()], [0], card, augment=policy)
    torch.manual_seed(5)
    first = dataset[0][0]
    torch.manual_seed(5)
    again = dataset[0][0]
    assert first.shape == (3, 64, 64) and torch.equal(first, again)
    torch.manual_seed(6)
    assert not torch.equal(first, dataset[0][0])


def test_strong_varies_framing_and_intensity_beyond_light():
    """Over many draws, strong spreads the mean intensity of the crop far wider than light does (light has no
    intensity change, only where the crop falls)."""
    image = _image()

    def spread(policy):
        torch.manual_seed(0)
        means = []
        for _ in range(40):
            out, left, top = augment(image, 64, policy)
            means.append(np.asarray(out.crop((left, top, left + 64, top + 64)), dtype=np.float32).mean())
        return float(np.std(means))

    assert spread("strong") > 2 * spread("light")


def test_the_intensity_table_is_the_identity_at_neutral_settings_and_clips():
    assert intensity_table(1.0, 1.0, 0.0) == list(range(256))
    bright = intensity_table(1.0, 1.0, 0.5)
    assert bright[0] == 128 and bright[-1] == 255 and all(a <= b for a, b in zip(bright, bright[1:]))


def test_an_unknown_policy_is_refused():
    card = card_at_input_size(get_card("shufflenet_v2_x1_0"), 64)
    with pytest.raises(ValueError, match="heavy"):
        CxrDataset([_image()], [0], card, augment="heavy")
