"""Parameters and MACs counted by torch's flop counter agree with torchvision's published figures (weights meta)."""

import pytest
import torchvision

from cmx_bench.nets.complexity import count_params_and_macs


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1", "densenet121"])
def test_params_and_macs_match_torchvision_meta(name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta  # no download: the meta ships with torchvision
    counted = count_params_and_macs(getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224))
    assert counted["params"] == meta["num_params"]
    # torchvision's "_ops" column counts one multiply-add as one operation (GMACs, in its own words "GFLOPS").
    assert counted["macs"] / 1e9 == pytest.approx(meta["_ops"], rel=0.02)
