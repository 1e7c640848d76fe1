"""The three-player pipeline on phantoms through the CLI: RF, then a distilled ShuffleNetV2 that reaches 0.9
test accuracy, whose exported .pte predicts exactly as the eager student."""

import json

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    monkeypatch = pytest.MonkeyPatch()

    def cli(*args):
        code, _, _ = run_cli(monkeypatch, None, *args)
        assert code == 0, args
    cli("data", "phantoms", "--out", root / "phantoms", "--per-class", "120", "--size", "72", "--seed", "1")
    cli("data", "prepare", "--manifest", root / "phantoms", "--out", root / "split.csv")
    cli("train", "rf", "--data", root / "split.csv", "--preset", "tiny", "--epochs", "5", "--out", root / "rf")
    cli("train", "ms", "--model", "shufflenet_v2_x1_0", "--teacher", root / "rf" / "best.pth", "--data",
        root / "split.csv", "--preset", "tiny", "--epochs", "16", "--lr", "2e-3", "--out", root / "ms")
    monkeypatch.undo()
    return root


def test_training_keeps_the_best_checkpoint_and_history(trained):
    for folder, epochs in (("rf", 5), ("ms", 16)):
        history = json.loads((trained / folder / "history.json").read_text())
        assert len(history["history"]) == epochs and (trained / folder / "best.pth").is_file()
        assert history["best"]["val_score"] == max(r["val_score"] for r in history["history"])
    assert json.loads((trained / "ms" / "history.json").read_text())["meta"]["teacher"].endswith("best.pth")


def test_distilled_student_reaches_090_test_accuracy(trained, cli, tmp_path):
    code, out, err = cli("evaluate", "-m", "shufflenet_v2_x1_0", "-w", trained / "ms" / "best.pth", "--data",
                         trained / "split.csv", "--split", "test", "--gradcam", "2", "--out", tmp_path / "eval")
    assert code == 0, err
    metrics = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["sets"]["clean"]
    assert metrics["images"] >= 60 and metrics["accuracy"] >= 0.9, metrics["accuracy"]
    assert set(metrics["auroc"]) == {"covid_vs_normal", "covid_vs_pneumonia", "covid_vs_rest"}
    for figure in ("roc.png", "tsne.png", "gradcam.png"):
        assert (tmp_path / "eval" / figure).stat().st_size > 5000


def test_distilled_student_artifact_predicts_as_the_eager_student(trained, cli, tmp_path):
    code, _, err = cli("run", "-m", "shufflenet_v2_x1_0", "--weights", trained / "ms" / "best.pth", "--data",
                       trained / "split.csv", "--split", "test", "--iters", "3", "--warmup", "0", "--min-duration", "0",
                       "--out", tmp_path)
    assert code == 0, err
    [record_path] = list(tmp_path.glob("*/records/*.json"))
    record = json.loads(record_path.read_text())
    assert record["model"]["input_size"] == 64  # exported at the size it was trained at
    assert record["accuracy"]["parity"]["argmax_agreement"] == 1.0
    assert record["accuracy"]["parity"]["max_abs_delta_prob"] <= 1e-4
    assert record["accuracy"]["accuracy"] == record["accuracy"]["eager"]["accuracy"]
