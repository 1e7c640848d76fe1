"""The loop: warmup + cosine schedule, last.pth every epoch, a resumed run that ends with the same weights, and the
validation figure (score or loss) that picks best.pth."""

import csv
import json
import math

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.train.checkpoints import improves
from cmx_bench.train.loops import TrainRunOptions, cross_entropy_value, lr_factor
from cmx_bench.train.run_log import COLUMNS
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
    assert lines[0].startswith("epoch,train_loss,val_score,val_loss,lr") and len(lines) == 4
    assert_metrics_csv_holds(tmp_path / "cut" / "metrics.csv", history["history"])
    assert_is_a_three_panel_png(tmp_path / "cut" / "curves.png")


def assert_metrics_csv_holds(path, history):
    """One row per epoch, in order, with the history's values (written with repr, so they read back exactly)."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        rows = list(reader)
    assert len(rows) == len(history)
    for row, recorded in zip(rows, history):
        assert int(row["epoch"]) == recorded["epoch"]
        for column in COLUMNS[1:]:
            assert float(row[column]) == recorded[column], (recorded["epoch"], column)


def assert_is_a_three_panel_png(path):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert 3 * height <= width <= 6000 and height >= 200  # three plots side by side, at a readable size
    assert colours is None or len(colours) > 16  # curves, axes and text, not a blank canvas


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
        assert_events_hold_the_history(tmp_path / "tb")


def assert_events_hold_the_history(run_dir):
    """The event file holds one scalar per epoch for each tracked figure, equal to history.json's (as float32)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    history = json.loads((run_dir / "history.json").read_text())["history"]
    for key in ("train_loss", "val_score", "val_loss", "lr", "images_per_s"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [row["epoch"] for row in history], key
        assert [s.value for s in scalars] == pytest.approx([row[key] for row in history], rel=1e-6), key


def test_the_kept_epoch_is_the_higher_score_or_with_select_loss_the_lower_loss():
    kept = {"val_score": 0.80, "val_loss": 0.50, "epoch": 3}
    better_score_worse_loss = {"val_score": 0.85, "val_loss": 0.60, "epoch": 4}
    assert improves(better_score_worse_loss, kept, "score") and not improves(better_score_worse_loss, kept, "loss")
    tie = {"val_score": 0.80, "val_loss": 0.50, "epoch": 5}
    assert not improves(tie, kept, "score") and not improves(tie, kept, "loss")  # the first of equal epochs stays
    nothing_yet = {"val_score": None, "val_loss": None, "epoch": None}
    assert improves(tie, nothing_yet, "score") and improves(tie, nothing_yet, "loss")
    # A run resumed from before validation losses were recorded: its kept epoch has a score only.
    assert improves(tie, {"val_score": 0.9, "epoch": 2}, "loss")


def test_the_validation_loss_is_cross_entropy_against_the_labels():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    by_hand = -(math.log(math.exp(2) / (math.exp(2) + 2)) + math.log(math.exp(3) / (math.exp(3) + 2))) / 2
    assert cross_entropy_value(logits, torch.tensor([0, 2])) == pytest.approx(by_hand)


def test_select_loss_keeps_the_epoch_of_lowest_validation_loss(data, tmp_path, cli):
    args = ["--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "4", "--workers", "0",
            "--batch-size", "8", "--bn-refresh", "off"]
    for select in ("score", "loss"):
        code, out, err = cli("train", "ms", *args, "--select", select, "--out", tmp_path / select)
        assert code == 0, err
        history = json.loads((tmp_path / select / "history.json").read_text())
        rows = history["history"]
        if select == "loss":
            expected = min(rows, key=lambda row: row["val_loss"])["epoch"]
        else:
            expected = max(rows, key=lambda row: row["val_score"])["epoch"]  # max() returns the first of equals
        kept = torch.load(tmp_path / select / "best.pth", weights_only=True)["cmx_bench"]
        assert history["best"]["epoch"] == kept["epoch"] == expected
        assert kept["config"]["select"] == select
        assert kept["val_loss"] == pytest.approx(rows[expected - 1]["val_loss"])
        assert f"at epoch {expected}" in out
    code, _, err = cli("train", "ms", *args, "--select", "auroc", "--out", tmp_path / "bad")
    assert code == 1 and "unknown select 'auroc'" in err and len(err.strip().splitlines()) == 1


def test_the_hard_label_term_of_eq_2_is_chosen_on_the_command_line(data, tmp_path, cli):
    args = ["--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1", "--workers", "0",
            "--batch-size", "8", "--bn-refresh", "off"]
    for value, at_t in (("t", True), ("1", False)):
        code, _, err = cli("train", "ms", *args, "--student-loss-at", value, "--out", tmp_path / value)
        assert code == 0, err
        kept = torch.load(tmp_path / value / "best.pth", weights_only=True)["cmx_bench"]
        assert kept["config"]["student_loss_at_t"] is at_t
    code, _, err = cli("train", "ms", *args, "--student-loss-at", "2", "--out", tmp_path / "bad")
    assert code == 1 and "unknown --student-loss-at '2'" in err and len(err.strip().splitlines()) == 1


def test_a_diverged_epoch_stops_the_run_in_one_line():
    import math

    from cmx_bench.errors import CmxError
    from cmx_bench.train.loops import check_converging

    check_converging({"epoch": 1, "train_loss": 0.5, "val_loss": 1.0, "val_score": 0.5})
    with pytest.raises(CmxError, match="diverged at epoch 3: train loss is nan; start again with a lower --lr"):
        check_converging({"epoch": 3, "train_loss": math.nan, "val_loss": 1.0, "val_score": 0.5})
