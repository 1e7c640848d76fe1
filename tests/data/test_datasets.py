import torch
from PIL import Image

from cmx_bench.data.datasets import CxrDataset
from cmx_bench.data.phantoms import phantom
from cmx_bench.data.preprocess import to_tensor
from cmx_bench.nets.registry import card_at_input_size, get_card


def test_evaluation_samples_equal_the_host_preprocessing():
    """What a network is validated on is exactly what the runner is fed for the same card and size."""
    card = card_at_input_size(get_card("shufflenet_v2_x1_0"), 64)
    images = [Image.fromarray(phantom(label, 90, seed=3)) for label in ("covid", "normal")]
    dataset = CxrDataset(images, [0, 1], card, augment="none")
    for index, image in enumerate(images):
        sample, label = dataset[index]
        assert label == index and sample.shape == (3, 64, 64)
        assert torch.equal(sample, to_tensor(image, card)[0])


def test_multi_hot_labels_become_float_tensors():
    card = card_at_input_size(get_card("densenet121"), 32)
    dataset = CxrDataset([Image.fromarray(phantom("normal", 40))], [[1, 0, 1]], card, augment="light")
    assert torch.equal(dataset[0][1], torch.tensor([1.0, 0.0, 1.0]))
