from collections import OrderedDict

import pytest
import torch

from cmx_bench.errors import CheckpointError
from cmx_bench.nets.checkpoint import load_weights, read_state_dict
from cmx_bench.nets.registry import build_model, get_card


@pytest.fixture
def card():
    return get_card("squeezenet1_1")


def _seeded(card, seed):
    torch.manual_seed(seed)
    return build_model(card)


def test_plain_state_dict_loads_exactly(card, tmp_path):
    source = _seeded(card, 1)
    path = tmp_path / "plain.pth"
    torch.save(source.state_dict(), path)
    target = _seeded(card, 2)
    facts = load_weights(target, path)
    assert facts["source"] == "checkpoint" and len(facts["sha256"]) == 64
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key])


def test_dataparallel_prefix_and_wrapper_dict_are_accepted(card, tmp_path):
    source = _seeded(card, 1)
    prefixed = OrderedDict(("module." + k, v) for k, v in source.state_dict().items())
    path = tmp_path / "dp.pth"
    torch.save({"epoch": 3, "state_dict": prefixed}, path)
    state = read_state_dict(path)
    assert set(state) == set(source.state_dict())


def test_whole_model_pickle_needs_trust(card, tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(_seeded(card, 1), path)
    with pytest.raises(CheckpointError, match="--trust-pickle"):
        load_weights(_seeded(card, 2), path)
    facts = load_weights(_seeded(card, 2), path, trust_pickle=True)
    assert facts["trusted_pickle"] is True


def test_corrupt_missing_and_mismatched_checkpoints(card, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x02not really a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights(_seeded(card, 1), corrupt)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(_seeded(card, 1), tmp_path / "nope.pth")
    other = tmp_path / "mobilenet.pth"
    torch.save(build_model(get_card("mobilenet_v2")).state_dict(), other)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(_seeded(card, 1), other)


def test_corrupt_checkpoint_names_the_damage_not_torch_advice(card, tmp_path):
    # weights_only=True wraps every unpickling error in a paragraph about PyTorch 2.6's default; a newcomer with
    # a damaged file needs the damage, and the line must not tell them to turn weights_only off.
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"garbage\n")
    with pytest.raises(CheckpointError) as excinfo:
        load_weights(_seeded(card, 1), garbage)
    message = str(excinfo.value)
    assert "Unsupported operand" in message and "2.6" not in message and "\n" not in message
    whole = tmp_path / "whole.pth"
    torch.save(_seeded(card, 1).state_dict(), whole)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"central directory\); re-save it"):
        load_weights(_seeded(card, 1), truncated)
