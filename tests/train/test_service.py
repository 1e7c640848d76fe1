"""`cmx-bench train` into a folder that already holds a run: refused, the run kept; --resume continues it,
and leaves a finished run as it is."""

from cmx_bench.data.phantoms import write_phantom_folder


def test_a_second_run_into_the_same_folder_is_refused_and_the_first_is_kept(cli, tmp_path):
    write_phantom_folder(tmp_path / "clean", per_class=4, size=48, seed=3)
    assert cli("data", "prepare", "--manifest", tmp_path / "clean", "--out", tmp_path / "split.csv")[0] == 0
    train = ("train", "ms", "--model", "squeezenet1_1", "--data", tmp_path / "split.csv", "--preset", "tiny",
             "--workers", "0", "--out", tmp_path / "ms")
    assert cli(*train, "--epochs", "1")[0] == 0
    kept = {name: (tmp_path / "ms" / name).read_bytes() for name in ("history.json", "best.pth", "last.pth")}

    code, _, err = cli(*train, "--epochs", "2")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "already holds a training run" in err and f"--resume {tmp_path / 'ms'}" in err
    assert {name: (tmp_path / "ms" / name).read_bytes() for name in kept} == kept

    code, _, err = cli("train", "ms", "--resume", tmp_path / "ms", "--epochs", "2", "--workers", "0")
    assert code == 0, err
    assert (tmp_path / "ms" / "history.json").read_bytes() != kept["history.json"]


def test_resuming_a_finished_run_changes_nothing(cli, tmp_path):
    write_phantom_folder(tmp_path / "clean", per_class=4, size=48, seed=3)
    assert cli("data", "prepare", "--manifest", tmp_path / "clean", "--out", tmp_path / "split.csv")[0] == 0
    assert cli("train", "ms", "--model", "squeezenet1_1", "--data", tmp_path / "split.csv", "--preset", "tiny",
               "--workers", "0", "--epochs", "1", "--out", tmp_path / "ms")[0] == 0
    kept = {name: (tmp_path / "ms" / name).read_bytes() for name in ("history.json", "best.pth", "last.pth")}
    code, out, err = cli("train", "ms", "--resume", tmp_path / "ms", "--workers", "0")
    assert code == 0, err
    assert "epoch 1" in out and str(tmp_path / "ms" / "best.pth") in out.replace("\n", "")
    assert {name: (tmp_path / "ms" / name).read_bytes() for name in kept} == kept
