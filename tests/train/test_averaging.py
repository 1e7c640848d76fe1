"""The weight average: its decay, and a run that validates and keeps the average rather than the raw weights."""

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.train.averaging import weight_average


def test_the_average_moves_one_minus_decay_of_the_way_after_a_first_copy():
    model = torch.nn.Linear(1, 1, bias=False)
    average = weight_average(model, 0.9)
    for value in (1.0, 2.0, 3.0):
        model.weight.data.fill_(value)
        average.update_parameters(model)
    # 1, then 0.9 * 1 + 0.1 * 2 = 1.1, then 0.9 * 1.1 + 0.1 * 3 = 1.29
    assert average.module.weight.item() == pytest.approx(1.29)
    assert weight_average(model, 0.0) is None


def test_a_run_with_ema_keeps_the_average_in_best_pth(tmp_path, cli):
    data = write_phantom_folder(tmp_path / "data", per_class=6, size=64, seed=4)
    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1",
                       "--batch-size", "6", "--workers", "0", "--bn-refresh", "off", "--ema", "0.5",
                       "--out", tmp_path / "run")
    assert code == 0, err
    best = torch.load(tmp_path / "run" / "best.pth", weights_only=True)
    last = torch.load(tmp_path / "run" / "last.pth", weights_only=True)
    assert best["cmx_bench"]["config"]["ema"] == 0.5
    averaged = {key.removeprefix("module."): value for key, value in last["average"].items() if key != "n_averaged"}
    assert averaged.keys() == best["state_dict"].keys()
    assert all(torch.equal(averaged[key], value) for key, value in best["state_dict"].items())
    assert not all(torch.equal(last["state_dict"][key], value) for key, value in best["state_dict"].items()
                   if value.is_floating_point())


def test_an_ema_outside_zero_to_one_is_one_line(tmp_path, cli):
    code, _, err = cli("train", "ms", "--data", tmp_path, "--ema", "1.5")
    assert code == 1 and "--ema 1.5" in err and len(err.strip().splitlines()) == 1
