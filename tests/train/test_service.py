"""`cmx-bench train` into a folder that already holds a run: refused, the run kept; --resume continues it,
and leaves a finished run as it is."""

import pytest

from cmx_bench.data.phantoms import write_phantom_folder

RUN_FILES = ("history.json", "best.pth", "last.pth")


@pytest.fixture
def one_epoch_run(cli, tmp_path):
    """The arguments of a one-epoch student run on phantoms, and its folder after that run."""
    write_phantom_folder(tmp_path / "clean", per_class=4, size=48, seed=3)
    assert cli("data", "prepare", "--manifest", tmp_path / "clean", "--out", tmp_path / "split.csv")[0] == 0
    train = ("train", "ms", "--model", "squeezenet1_1", "--data", tmp_path / "split.csv", "--preset", "tiny",
             "--workers", "0", "--out", tmp_path / "ms")
    assert cli(*train, "--epochs", "1")[0] == 0
    return train, tmp_path / "ms"


def _files(folder):
    return {name: (folder / name).read_bytes() for name in RUN_FILES}


def test_a_second_run_into_the_same_folder_is_refused_and_the_first_is_kept(cli, one_epoch_run):
    train, folder = one_epoch_run
    kept = _files(folder)
    code, _, err = cli(*train, "--epochs", "2")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "already holds a training run" in err and f"--resume {folder}" in err
    assert _files(folder) == kept

    code, _, err = cli("train", "ms", "--resume", folder, "--epochs", "2", "--workers", "0")
    assert code == 0, err
    assert _files(folder)["history.json"] != kept["history.json"]


def test_resuming_a_finished_run_changes_nothing(cli, one_epoch_run):
    _, folder = one_epoch_run
    kept = _files(folder)
    code, out, err = cli("train", "ms", "--resume", folder, "--workers", "0")
    assert code == 0, err
    assert "epoch 1" in out and str(folder / "best.pth") in out.replace("\n", "")
    assert _files(folder) == kept
