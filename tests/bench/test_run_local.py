"""The main job on the local device, end to end through the CLI."""

import json

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from cmx_bench.data.images import list_images, listing_sha256, read_grayscale
from cmx_bench.data.preprocess import to_tensor
from cmx_bench.export.lowering import WithSoftmax
from cmx_bench.nets.checkpoint import load_weights
from cmx_bench.nets.registry import build_model, get_card
from cmx_bench.results.record import record_errors

FAST = ["--warmup", "1", "--min-duration", "0.3"]


def _records(out):
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/records/*.json"))]


def test_one_record_per_format_with_samples_series_and_statistics(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, stdout, stderr = cli("run", "--device", "local", "--model", "shufflenet_v2_x1_0", "--format", "ptl",
                               "--format", "pte", "--iters", "50", *FAST, "--out", tmp_path)
    assert code == 0, stderr
    records = _records(tmp_path)
    assert sorted(r["config"]["format"] for r in records) == ["pte", "ptl"]
    for record in records:
        assert record_errors(record) == []
        assert len(record["latency"]["samples_ms"]) >= 50
        assert record["latency"]["stats"]["count"] == len(record["latency"]["samples_ms"])
        assert len(record["timeseries"]["t"]) >= 5 and len(record["timeseries"]["cpu_s"]) == len(record["timeseries"]["t"])
        assert record["cpu"]["cpu_core_pct"] > 0 and record["memory"]["pss_peak_mb"] > 0
        assert record["energy"]["method"] in ("rapl_package", "power_model")
        assert record["config"]["weights"]["source"] == "random_init"
    run_dir = next(tmp_path.iterdir())
    assert {p.name for p in run_dir.iterdir()} >= {"report.md", "report.html", "table5.csv", "records"}
    assert "Table 5 view" in stdout and "randomly initialised" in stdout
    table = stdout[stdout.index("Table 5 view"):stdout.index("Weights:")].splitlines()
    assert max(map(len, table)) <= 80 and "…" not in "".join(table)
    assert sum("shufflenet_v2_x1_0" in line for line in table) == 2
    # The model's own memory (private memory rise), not the runner's hundreds of MB of Python and torch.
    for record in records:
        assert 0 < record["memory"]["uss_delta_mb"] < 100 < record["memory"]["pss_peak_mb"]


def test_an_artifact_exported_without_weights_says_so_everywhere(cli, tmp_path, monkeypatch):
    from cmx_bench.export.service import export_to_folder

    [(artifact, _)] = export_to_folder("squeezenet1_1", ["pte"], tmp_path / "artifacts")
    monkeypatch.chdir(tmp_path)  # a relative --artifact, as the README writes it: the runner starts elsewhere
    code, stdout, stderr = cli("run", "--artifact", artifact.relative_to(tmp_path), "--iters", "5", *FAST,
                               "--out", tmp_path / "out")
    assert code == 0, stderr
    [record] = _records(tmp_path / "out")
    assert record["config"]["weights"]["artifact_weights_source"] == "random_init"
    assert "randomly initialised" in stdout and "from artifacts exported without --weights" in stdout
    report = next((tmp_path / "out").glob("*/report.md")).read_text()
    assert "randomly initialised" in report and "artifact:random_init" in report


def _eager_metrics(checkpoint, data):
    card = get_card("squeezenet1_1")
    model = build_model(card)
    load_weights(model, checkpoint)
    images = list_images(data, card.classes)
    with torch.no_grad():
        probs = torch.cat([WithSoftmax(model)(to_tensor(read_grayscale(i.path), card)) for i in images]).numpy()
    labels = np.array([card.classes.index(i.label) for i in images])
    covid = (labels == 0).astype(int)
    return float((probs.argmax(1) == labels).mean()), float(roc_auc_score(covid, probs[:, 0]))


def test_accuracy_and_auroc_match_the_eager_model(cli, tmp_path, phantom_dir, squeezenet_checkpoint):
    code, _, stderr = cli("run", "--model", "squeezenet1_1", "--data", phantom_dir, "--weights",
                          squeezenet_checkpoint, "--iters", "5", *FAST, "--out", tmp_path)
    assert code == 0, stderr
    [record] = _records(tmp_path)
    accuracy, auroc = _eager_metrics(squeezenet_checkpoint, phantom_dir)
    block = record["accuracy"]
    assert block["images"] == 12
    assert abs(block["accuracy"] - accuracy) < 1e-9
    assert abs(block["auroc"]["covid_vs_rest"] - auroc) < 1e-6
    assert block["parity"]["argmax_agreement"] == 1.0 and block["parity"]["max_abs_delta_prob"] <= 1e-4
    # The device's figures carry bootstrap intervals; the eager reference, there to compare point figures, does not.
    assert block["ci95"]["accuracy"][0] <= block["accuracy"] <= block["ci95"]["accuracy"][1]
    assert "ci95" not in block["eager"]
    # Per image, so that compare can pair this run with another on the same images.
    images = list_images(phantom_dir, get_card("squeezenet1_1").classes)
    assert block["labels"] == [get_card("squeezenet1_1").classes.index(i.label) for i in images]
    assert block["images_sha256"] == listing_sha256(images, phantom_dir) and len(block["outputs"]) == 12
    assert record["config"]["weights"]["source"] == "checkpoint"


def test_a_failure_mid_run_keeps_what_was_measured(cli, tmp_path, monkeypatch):
    from cmx_bench.devices.local import LocalDevice
    from cmx_bench.errors import RunnerError

    original, calls = LocalDevice.run, []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RunnerError("host runner crashed (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LocalDevice, "run", flaky)
    code, _, err = cli("run", "-m", "squeezenet1_1", "-f", "ptl", "-f", "pte", "--iters", "3", *FAST, "--out", tmp_path)
    assert code == 1 and "1 of 2 runs failed" in err and "simulated" in err
    records = {r["config"]["format"]: r for r in _records(tmp_path)}
    assert records["ptl"]["status"] == "ok" and records["pte"]["status"] == "error"
    assert records["pte"]["errors"] == ["host runner crashed (simulated)"] and record_errors(records["pte"]) == []
    assert (next(tmp_path.iterdir()) / "report.md").is_file()
