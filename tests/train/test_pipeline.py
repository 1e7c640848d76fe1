"""The three-player pipeline end to end on phantoms, at smoke-test size (accuracy targets are for benchmarks)."""

import json

import pytest

from cmx_bench.data.phantoms import write_phantom_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """RF, then a ShuffleNetV2 student distilled from it; 2 epochs each at 64 px."""
    from pathlib import Path

    from cmx_bench.train.players import train_classifier
    from cmx_bench.train.presets import preset

    root = tmp_path_factory.mktemp("pipeline")
    data = write_phantom_folder(root / "phantoms", per_class=20, size=80, seed=11)
    rf = train_classifier("densenet121", data, root / "rf", preset("tiny", epochs=2))
    ms = train_classifier("shufflenet_v2_x1_0", data, root / "ms", preset("tiny", epochs=2),
                          teacher=Path(rf["checkpoint"]))
    return root, data, rf, ms


def test_training_keeps_the_best_checkpoint_and_history(trained):
    root, _, rf, ms = trained
    for summary, folder in ((rf, "rf"), (ms, "ms")):
        history = json.loads((root / folder / "history.json").read_text())
        assert len(history["history"]) == 2 and (root / folder / "best.pth").is_file()
        assert history["best"]["val_score"] == max(r["val_score"] for r in history["history"])
    assert json.loads((root / "ms" / "history.json").read_text())["meta"]["teacher"].endswith("best.pth")


def test_distilled_student_artifact_predicts_as_the_eager_student(trained, cli, tmp_path):
    root, data, _, ms = trained
    code, _, err = cli("run", "-m", "shufflenet_v2_x1_0", "--weights", ms["checkpoint"], "--data", data,
                       "--iters", "3", "--warmup", "0", "--min-duration", "0", "--out", tmp_path)
    assert code == 0, err
    [record_path] = list(tmp_path.glob("*/records/*.json"))
    record = json.loads(record_path.read_text())
    assert record["model"]["input_size"] == 64  # exported at the size it was trained at
    assert record["accuracy"]["parity"]["argmax_agreement"] == 1.0
    assert record["accuracy"]["parity"]["max_abs_delta_prob"] <= 1e-4
    assert record["accuracy"]["accuracy"] == record["accuracy"]["eager"]["accuracy"]


def test_evaluate_writes_metrics_and_figures(trained, cli, tmp_path):
    root, data, rf, _ = trained
    code, out, err = cli("evaluate", "-m", "densenet121", "-w", rf["checkpoint"], "--data", data, "--split", "all",
                         "--gradcam", "2", "--out", tmp_path / "eval")
    assert code == 0, err
    results = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    metrics = results["sets"]["clean"]
    assert metrics["images"] == 60 and set(metrics["auroc"]) == {"covid_vs_normal", "covid_vs_pneumonia", "covid_vs_rest"}
    for figure in ("roc.png", "tsne.png", "gradcam.png"):
        assert (tmp_path / "eval" / figure).stat().st_size > 5000
