"""Players' data: students trained on clean images and their snapshot twins together (--snapshots)."""

import json

from cmx_bench.data.phantoms import write_phantom_folder


def test_snapshots_add_each_training_image_s_twin(cli, tmp_path):
    write_phantom_folder(tmp_path / "clean", per_class=6, size=64, seed=8)
    assert cli("data", "prepare", "--manifest", tmp_path / "clean", "--out", tmp_path / "split.csv")[0] == 0
    assert cli("data", "snapshots", tmp_path / "split.csv", "--out", tmp_path / "snap")[0] == 0
    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", tmp_path / "split.csv", "--snapshots",
                       tmp_path / "snap" / "manifest.csv", "--preset", "tiny", "--epochs", "1", "--workers", "0",
                       "--out", tmp_path / "ms")
    assert code == 0, err
    meta = json.loads((tmp_path / "ms" / "history.json").read_text())["meta"]
    assert meta["counts"]["train_snapshots"] == meta["counts"]["train"] > 0
    assert meta["snapshots"].endswith("manifest.csv")


def test_snapshots_without_a_train_split_are_refused(cli, tmp_path):
    write_phantom_folder(tmp_path / "clean", per_class=3, size=48, seed=8)
    assert cli("data", "snapshots", tmp_path / "clean", "--out", tmp_path / "snap")[0] == 0
    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", tmp_path / "clean", "--snapshots",
                       tmp_path / "snap" / "manifest.csv", "--preset", "tiny", "--epochs", "1", "--out", tmp_path / "ms")
    assert code == 1 and "no 'train' images" in err and len(err.strip().splitlines()) == 1
