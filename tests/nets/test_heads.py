import pytest
import torch

from cmx_bench.nets.heads import ScaledCosineHead, use_cosine_heads
from cmx_bench.nets.registry import STUDENTS, build_model, get_card


@pytest.mark.parametrize("name", [*STUDENTS, "densenet121"])
def test_every_network_takes_cosine_heads_for_arcface(name):
    model = use_cosine_heads(build_model(get_card(name)), scale=10.0).eval()
    assert any(isinstance(m, ScaledCosineHead) for m in model.modules())
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 3) and out.abs().max() <= 10.0 + 1e-5  # s * cos(theta)
