"""The checkpoint saver: which epoch best.pth keeps, what best.pth and last.pth hold, resuming, main-rank writing."""

import pytest
import torch

from cmx_bench.errors import CheckpointError
from cmx_bench.nets.checkpoint import read_state_dict
from cmx_bench.train.averaging import weight_average
from cmx_bench.train.checkpoints import CheckpointSaver, TrainingState, read_last_checkpoint

LAST_KEYS = {"state_dict", "optimizer", "scheduler", "scaler", "epoch", "history", "best", "rng", "average",
             "cmx_bench"}
META = {"player": "ms", "model": "tiny", "config": {"epochs": 3}, "engine": {"world_size": 1}, "workers": 0,
        "teacher": None}


def training_state(seed: int = 0, ema: float = 0.0) -> TrainingState:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    return TrainingState(model, optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False),
                         weight_average(model, ema))


def train_a_step(state: TrainingState) -> None:
    state.optimizer.zero_grad()
    state.model(torch.randn(8, 3)).square().mean().backward()
    state.optimizer.step()
    state.scheduler.step()
    if state.average is not None:
        state.average.update_parameters(state.model)


def row(epoch: int, score: float, loss: float) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / epoch, "val_score": score, "val_loss": loss, "lr": 0.1}


def kept_epochs(saver: CheckpointSaver, rows: list[dict]) -> list[int]:
    """The kept epoch after each row."""
    kept = []
    for each in rows:
        saver.save_epoch(each)
        kept.append(saver.best["epoch"])
    return kept


ROWS = [row(1, 0.70, 0.90), row(2, 0.80, 0.95), row(3, 0.80, 0.60), row(4, 0.75, 0.60), row(5, 0.85, 0.70)]


def test_select_score_keeps_the_first_epoch_of_highest_score(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META, select="score")
    assert not saver.decreasing
    assert kept_epochs(saver, ROWS) == [1, 2, 2, 2, 5]
    assert torch.load(saver.best_path, weights_only=True)["cmx_bench"]["epoch"] == 5


def test_select_loss_keeps_the_first_epoch_of_lowest_loss(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META, select="loss")
    assert saver.decreasing
    assert kept_epochs(saver, ROWS) == [1, 1, 3, 3, 3]
    kept = torch.load(saver.best_path, weights_only=True)["cmx_bench"]
    assert (kept["epoch"], kept["val_score"], kept["val_loss"]) == (3, 0.80, 0.60)


def test_save_epoch_says_whether_the_epoch_was_kept(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META, select="score")
    assert [saver.save_epoch(each) for each in ROWS] == [True, True, False, False, True]


def test_a_run_begun_before_validation_losses_keeps_the_first_epoch_that_has_one(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META, select="loss")
    saver.best = {"val_score": 0.9, "epoch": 2}  # what such a run's last.pth holds
    assert saver.is_better(row(3, 0.1, 5.0))


def test_best_pth_holds_the_evaluated_weights_and_the_epoch_s_meta(tmp_path):
    state = training_state(ema=0.5)
    for _ in range(2):  # the average's first update copies the weights; the second moves it only half way
        train_a_step(state)
    saver = CheckpointSaver(tmp_path, state, META)
    saver.save_epoch(row(1, 0.7, 0.9))
    best = torch.load(saver.best_path, weights_only=True)
    assert set(best) == {"state_dict", "cmx_bench"}
    assert best["cmx_bench"] == {**META, "epoch": 1, "val_score": 0.7, "val_loss": 0.9}
    averaged = state.average.module.state_dict()
    assert set(best["state_dict"]) == set(averaged)
    for key, value in averaged.items():
        assert torch.equal(best["state_dict"][key], value), key
    assert not torch.equal(best["state_dict"]["0.weight"], state.model.state_dict()["0.weight"])
    assert set(read_state_dict(saver.best_path)) == set(averaged)  # what nets/checkpoint.py's loaders read


def test_last_pth_holds_everything_needed_to_resume(tmp_path):
    state = training_state(ema=0.5)
    train_a_step(state)
    saver = CheckpointSaver(tmp_path, state, META)
    saver.save_epoch(row(1, 0.7, 0.9))
    saver.save_epoch(row(2, 0.6, 0.8))
    last = torch.load(saver.last_path, weights_only=True)
    assert set(last) == LAST_KEYS
    assert last["epoch"] == 2 and last["history"] == [row(1, 0.7, 0.9), row(2, 0.6, 0.8)]
    assert last["best"] == {"val_score": 0.7, "val_loss": 0.9, "epoch": 1}
    assert last["cmx_bench"] == {**META, "epoch": 2, "val_score": 0.6, "val_loss": 0.8}
    for key, value in state.model.state_dict().items():
        assert torch.equal(last["state_dict"][key], value), key
    assert last["optimizer"]["state"] and last["scheduler"]["last_epoch"] == 1
    assert set(last["average"]) == set(state.average.state_dict())
    assert torch.equal(last["rng"]["torch"], torch.get_rng_state())


def test_without_an_average_last_pth_says_so(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META)
    saver.save_epoch(row(1, 0.7, 0.9))
    assert torch.load(saver.last_path, weights_only=True)["average"] is None


def test_restore_brings_back_the_state_history_best_and_random_numbers(tmp_path):
    state = training_state(seed=1, ema=0.5)
    train_a_step(state)
    saver = CheckpointSaver(tmp_path, state, META)
    saver.save_epoch(row(1, 0.7, 0.9))
    saver.save_epoch(row(2, 0.6, 0.8))
    next_draws = torch.rand(5)  # what the uninterrupted run would draw next

    torch.manual_seed(99)
    fresh = training_state(seed=2, ema=0.5)
    later = {**META, "config": {"epochs": 5}, "engine": {"world_size": 2}, "workers": 4, "teacher": "other.pth"}
    resumed = CheckpointSaver(tmp_path, fresh, later)
    assert resumed.restore() == 3
    assert torch.equal(torch.rand(5), next_draws)
    assert resumed.history == saver.history and resumed.best == saver.best
    for key, value in state.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[key], value), key
    for key, value in state.average.state_dict().items():
        assert torch.equal(fresh.average.state_dict()[key], value), key
    assert fresh.optimizer.state_dict()["state"].keys() == state.optimizer.state_dict()["state"].keys()
    assert fresh.scheduler.state_dict() == state.scheduler.state_dict()
    # This part's recipe, engine and workers; everything else as the run first recorded it.
    assert resumed.meta == {**META, "config": {"epochs": 5}, "engine": {"world_size": 2}, "workers": 4,
                            "resumed_at_epochs": [3]}


def test_every_resume_adds_its_epoch_and_the_epoch_facts_are_not_carried_over(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META)
    saver.save_epoch(row(1, 0.7, 0.9))
    first = CheckpointSaver(tmp_path, training_state(), META)
    first.restore()
    first.save_epoch(row(2, 0.6, 0.8))
    second = CheckpointSaver(tmp_path, training_state(), META)
    assert second.restore() == 3
    assert second.meta == {**META, "resumed_at_epochs": [2, 3]}
    assert torch.load(second.last_path, weights_only=True)["cmx_bench"]["resumed_at_epochs"] == [2]


def test_a_restored_run_is_finished_once_it_has_trained_its_epochs(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META)
    assert not saver.finished(0)  # a new run is never finished, even of no epochs
    saver.save_epoch(row(1, 0.7, 0.9))
    saver.save_epoch(row(2, 0.6, 0.8))
    resumed = CheckpointSaver(tmp_path, training_state(), META)
    resumed.restore()
    assert resumed.finished(2) and resumed.finished(1) and not resumed.finished(3)


def test_only_the_main_rank_writes_but_every_rank_keeps_count(tmp_path):
    saver = CheckpointSaver(tmp_path / "run", training_state(), META, is_main=False)
    kept = kept_epochs(saver, ROWS)
    assert not (tmp_path / "run").exists()
    assert kept == [1, 2, 2, 2, 5] and saver.history == ROWS
    assert saver.summary(False)["best"] == saver.best


def test_the_summary_names_both_checkpoints(tmp_path):
    saver = CheckpointSaver(tmp_path, training_state(), META)
    saver.save_epoch(row(1, 0.7, 0.9))
    assert saver.summary(True) == {"history": [row(1, 0.7, 0.9)], "best": {"val_score": 0.7, "val_loss": 0.9,
                                                                           "epoch": 1},
                                   "interrupted": True, "checkpoint": str(tmp_path / "best.pth"),
                                   "last": str(tmp_path / "last.pth")}


def test_missing_or_corrupt_last_pth_is_a_one_line_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no last.pth to resume from") as missing:
        read_last_checkpoint(tmp_path)
    (tmp_path / "last.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is corrupt") as corrupt:
        CheckpointSaver(tmp_path, training_state(), META).restore()
    assert len(str(missing.value).splitlines()) == len(str(corrupt.value).splitlines()) == 1
