"""Recipe files (`train --recipe`, `sweep --recipe`): the file's settings train, the command line overrides them,
bad keys are one line, and a run folder's recipe.toml gives the same recipe.toml again."""

import json

import pytest

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.errors import CmxError, UnknownNameError
from cmx_bench.tomlcompat import tomllib
from cmx_bench.train.recipe import (SWEEP_KEYS, TRAIN_KEYS, read_recipe, recipe_config, recipe_text,
                                    resolve_recipe)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipe-data")
    write_phantom_folder(folder / "clean", per_class=4, size=48, seed=3)
    return folder


def _split(cli, folder):
    manifest = folder / "split.csv"
    if not manifest.exists():
        assert cli("data", "prepare", "--manifest", folder / "clean", "--out", manifest)[0] == 0
    return manifest


def _history(folder):
    return json.loads((folder / "history.json").read_text())


def test_a_recipe_file_trains_with_its_settings_and_the_command_line_overrides_it(cli, manifest, tmp_path):
    data = _split(cli, manifest)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'model = "squeezenet1_1"\ndata = "{data}"\npreset = "tiny"\nepochs = 2\nlr = 0.002\n'
                      'schedule = "constant"\n')
    code, _, err = cli("train", "ms", "--recipe", recipe, "--workers", "0", "--out", tmp_path / "a")
    assert code == 0, err
    history = _history(tmp_path / "a")["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    assert [row["lr"] for row in history] == pytest.approx([0.002, 0.002])

    code, _, err = cli("train", "ms", "--recipe", recipe, "--epochs", "1", "--lr", "0.001", "--workers", "0",
                       "--out", tmp_path / "b")
    assert code == 0, err
    history = _history(tmp_path / "b")["history"]
    assert [row["epoch"] for row in history] == [1]
    assert history[0]["lr"] == pytest.approx(0.001)
    kept = tomllib.loads((tmp_path / "b" / "recipe.toml").read_text())
    assert kept["epochs"] == 1 and kept["lr"] == 0.001 and kept["model"] == "squeezenet1_1"
    assert kept["input-size"] == 64 and kept["preset"] == "tiny"  # the preset's value, resolved


def test_a_run_folders_recipe_gives_the_same_recipe_again(cli, manifest, tmp_path):
    data = _split(cli, manifest)
    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1",
                       "--seed", "4", "--workers", "0", "--out", tmp_path / "first")
    assert code == 0, err
    first = (tmp_path / "first" / "recipe.toml").read_text()
    code, _, err = cli("train", "ms", "--recipe", tmp_path / "first" / "recipe.toml", "--workers", "0",
                       "--out", tmp_path / "again")
    assert code == 0, err
    assert (tmp_path / "again" / "recipe.toml").read_text() == first
    first_run, again = _history(tmp_path / "first")["history"], _history(tmp_path / "again")["history"]
    assert [r["train_loss"] for r in again] == pytest.approx([r["train_loss"] for r in first_run])


@pytest.mark.parametrize("line, named", [("epoch = 3", "unknown key 'epoch'"),
                                         ('epochs = "three"', "key 'epochs'"),
                                         ("epochs = 0", "key 'epochs'"),
                                         ("lr = true", "key 'lr'"),
                                         ("out = 'x'", "unknown key 'out'"),
                                         ("epochs = [", "is not TOML")])
def test_a_bad_recipe_is_one_line_naming_the_key_and_exit_1(cli, manifest, tmp_path, line, named):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(f'data = "{_split(cli, manifest)}"\n{line}\n')
    code, _, err = cli("train", "ms", "--recipe", recipe, "--workers", "0", "--out", tmp_path / "run")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and named in err and str(recipe) in err, err
    assert not (tmp_path / "run").exists()


def test_a_recipe_with_resume_is_refused(cli, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text("epochs = 2\n")
    code, _, err = cli("train", "ms", "--recipe", recipe, "--resume", tmp_path)
    assert code == 1 and "--recipe starts a new run" in err


def test_settings_rank_preset_then_file_then_command_line(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('preset = "paper"\nbatch-size = 8\nlr = 0.01\nstudent_loss_at = "1"\n')
    values = resolve_recipe(TRAIN_KEYS, recipe, {"lr": 0.5, "batch_size": None})
    config = recipe_config(values)
    assert config.epochs == 50 and config.schedule == "constant"  # the paper preset's
    assert config.batch_size == 8                                    # the file's
    assert config.lr == 0.5                                          # the command line's
    assert config.student_loss_at_t is False


def test_written_recipes_read_back_to_their_settings(tmp_path):
    settings = {"model": "mobilenet_v2", "alphas": "0.2,0.8", "losses": 'pc0.8,"odd\\name"', "epochs": 3,
                "lr": 5e-05, "data": tmp_path / "d e" / "split.csv", "ema": 0.0}
    path = tmp_path / "recipe.toml"
    path.write_text(recipe_text(SWEEP_KEYS, settings, "cmx-bench sweep"))
    read = read_recipe(path, SWEEP_KEYS)
    assert read == {**settings, "data": settings["data"].resolve()}


def test_keys_of_another_command_are_refused(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text("alphas = '0.2'\n")
    with pytest.raises(UnknownNameError, match="unknown key 'alphas'"):
        read_recipe(recipe, TRAIN_KEYS)
    recipe.write_text("batch-size = 8\n")
    with pytest.raises(CmxError, match="unknown key 'batch-size'"):
        read_recipe(recipe, SWEEP_KEYS)
