"""--init imagenet through torchvision's weights API: a seeded TORCH_HOME initialises the trunk; offline is one line."""

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.nets.checkpoint import read_state_dict


def _cache_file(torch_home: Path, builder: str) -> Path:
    weights = torchvision.models.get_model_weights(builder).DEFAULT
    return torch_home / "hub" / "checkpoints" / Path(weights.url).name


@pytest.fixture
def offline(monkeypatch):
    """No test touches the network: any download torch.hub would start fails as it does offline."""
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_offline_without_the_file_is_one_line_naming_the_url_and_cache_path(cli, tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=48, seed=4)
    code, _, err = cli("train", "ms", "--model", "mobilenet_v2", "--init", "imagenet", "--data", data,
                       "--preset", "tiny", "--out", tmp_path / "ms")
    expected = _cache_file(tmp_path / "torch-home", "mobilenet_v2")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert str(expected) in err.replace("\n", "") and "https://download.pytorch.org/models/" in err
    assert not (tmp_path / "ms" / "best.pth").exists()


def test_a_seeded_torch_home_initialises_the_trunk(cli, tmp_path, monkeypatch, offline):
    torch_home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    torch.manual_seed(11)
    imagenet = torchvision.models.shufflenet_v2_x1_0(weights=None)  # 1000 classes, as torchvision's file
    target = _cache_file(torch_home, "shufflenet_v2_x1_0")
    target.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), target)
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=48, seed=4)
    # lr 0: the saved network is the initialised one, so equality shows what --init loaded.
    code, _, err = cli("train", "ms", "--model", "shufflenet_v2_x1_0", "--init", "imagenet", "--data", data,
                       "--preset", "tiny", "--epochs", "1", "--lr", "0", "--bn-refresh", "off", "--workers", "0",
                       "--out", tmp_path / "ms")
    assert code == 0, err
    trained = read_state_dict(tmp_path / "ms" / "best.pth")
    source = imagenet.state_dict()
    trunk = [k for k in source if not k.startswith("fc.") and not k.endswith(("running_mean", "running_var",
                                                                              "num_batches_tracked"))]
    assert len(trunk) > 100
    for key in trunk:
        assert torch.equal(trained[key], source[key]), key
    assert trained["fc.weight"].shape == (3, 1024)  # the head keeps its 3 classes, randomly initialised


def test_densenet_trunk_of_the_rf_network_is_initialised(tmp_path, monkeypatch, offline):
    from cmx_bench.nets.cxr_densenet import rf_network
    from cmx_bench.train.players import _initialise
    from cmx_bench.nets.registry import get_card

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(5)
    imagenet = torchvision.models.densenet121(weights=None)
    target = _cache_file(tmp_path, "densenet121")
    target.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), target)
    rf = rf_network()
    facts = _initialise("densenet121", rf, "imagenet", get_card("densenet121"))
    assert facts["init"] == "imagenet" and facts["imagenet_tensors"] == len(rf.features.state_dict())
    for key, value in rf.features.state_dict().items():
        assert torch.equal(value, imagenet.features.state_dict()[key]), key
