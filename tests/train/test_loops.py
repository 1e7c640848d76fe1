"""The loop: warmup + cosine schedule, last.pth every epoch, and a resumed run that ends with the same weights."""

import json
import math

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.train.loops import TrainRunOptions, lr_factor
from cmx_bench.train.players import train_classifier
from cmx_bench.train.presets import preset


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    factors = [lr_factor(step, schedule="cosine", warmup_steps=4, total_steps=20) for step in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert factors[4] == 1.0 and factors[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 16)))
    assert lr_factor(7, schedule="constant", warmup_steps=4, total_steps=20) == 1.0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_phantom_folder(tmp_path_factory.mktemp("resume") / "data", per_class=8, size=64, seed=2)


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(data, tmp_path, cli):
    args = ["--model", "shufflenet_v2_x1_0", "--data", data, "--preset", "tiny", "--epochs", "3", "--workers", "2",
            "--batch-size", "8", "--optimizer", "adamw", "--weight-decay", "0.01", "--bn-refresh", "on",
            "--augment", "strong", "--ema", "0.9"]
    code, _, err = cli("train", "ms", *args, "--out", tmp_path / "straight")
    assert code == 0, err

    def stop_after_epoch_2(row, best):
        if row["epoch"] == 2:
            raise KeyboardInterrupt  # what Ctrl-C does between epochs
    config = preset("tiny", epochs=3, batch_size=8, optimizer="adamw", weight_decay=0.01, bn_refresh="on",
                    augment="strong", ema=0.9)
    summary = train_classifier("shufflenet_v2_x1_0", data, tmp_path / "cut", config,
                               run=TrainRunOptions(workers=2, on_epoch=stop_after_epoch_2))
    assert summary["interrupted"] and len(summary["history"]) == 2
    assert torch.load(tmp_path / "cut" / "last.pth", weights_only=True)["epoch"] == 2

    code, _, err = cli("train", "rf", "--resume", tmp_path / "cut")
    assert code == 1 and "holds a 'ms' run" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("train", "ms", "--resume", tmp_path / "cut")
    assert code == 0, err
    straight = torch.load(tmp_path / "straight" / "last.pth", weights_only=True)
    resumed = torch.load(tmp_path / "cut" / "last.pth", weights_only=True)
    assert resumed["epoch"] == straight["epoch"] == 3
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    for key, value in straight["average"].items():
        assert torch.equal(value, resumed["average"][key]), key
    history = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert [row["epoch"] for row in history["history"]] == [1, 2, 3]
    assert history["meta"]["resumed_at_epochs"] == [3]
    lines = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,val_score,lr") and len(lines) == 4
    assert (tmp_path / "cut" / "curves.png").stat().st_size > 5000


def test_resume_from_a_folder_without_last_pth_is_one_line(data, tmp_path, cli):
    code, _, err = cli("train", "rf", "--resume", tmp_path)
    assert code == 1 and "no last.pth" in err and len(err.strip().splitlines()) == 1


def test_tensorboard_writes_events_or_names_the_missing_extra(data, tmp_path, cli):
    import importlib.util

    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1",
                       "--workers", "0", "--tensorboard", "--out", tmp_path / "tb")
    if importlib.util.find_spec("tensorboard") is None:
        assert code == 1 and "pip install 'cmx-bench[tensorboard]'" in err and len(err.strip().splitlines()) == 1
    else:
        assert code == 0, err
        assert list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
