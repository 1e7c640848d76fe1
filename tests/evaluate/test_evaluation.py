import csv
import json

from cmx_bench.data.phantoms import write_phantom_folder


def test_evaluate_writes_one_prediction_row_per_image_that_agrees_with_the_metrics(cli, tmp_path,
                                                                                   squeezenet_checkpoint):
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=72, seed=4)
    code, out, err = cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data", data, "--split",
                         "all", "--gradcam", "0", "--out", tmp_path / "eval")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "eval" / "predictions.csv").open()))
    metrics = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["sets"]["clean"]
    assert len(rows) == metrics["images"] == 9
    assert {row["file"] for row in rows} == {str(p) for p in data.rglob("*.png")}
    assert sum(int(row["correct"]) for row in rows) / len(rows) == metrics["accuracy"]
    low, high = metrics["ci95"]["accuracy"]
    assert low <= metrics["accuracy"] <= high
    assert f"accuracy {metrics['accuracy']:.3f} (95% CI {low:.3f}-{high:.3f})" in " ".join(out.split())
    for row in rows:
        probs = {c: float(row[f"p_{c}"]) for c in ("covid", "normal", "pneumonia")}
        assert abs(sum(probs.values()) - 1) < 1e-4 and row["predicted"] == max(probs, key=probs.get)
        assert row["label"] == row["file"].split("/")[-2]


def test_evaluate_takes_the_network_from_the_checkpoint_and_never_overwrites_an_evaluation(cli, tmp_path,
                                                                                           squeezenet_checkpoint):
    import torch

    data = write_phantom_folder(tmp_path / "data", per_class=2, size=72, seed=4)
    trained = tmp_path / "trained.pth"  # the layout cmx-bench's trainer saves: weights and what they are
    torch.save({"state_dict": torch.load(squeezenet_checkpoint, weights_only=True),
                "cmx_bench": {"model": "squeezenet1_1"}}, trained)
    args = ("--data", data, "--split", "all", "--gradcam", "0", "--out", tmp_path / "eval")
    code, out, err = cli("evaluate", "-w", trained, *args)
    assert code == 0, err
    first = (tmp_path / "eval" / "evaluation.json").read_bytes()
    assert json.loads(first)["model"] == "squeezenet1_1" and "squeezenet1_1 on all" in out
    code, _, err = cli("evaluate", "-w", trained, *args)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "already holds an evaluation" in err, err
    assert (tmp_path / "eval" / "evaluation.json").read_bytes() == first
    code, _, err = cli("evaluate", "-w", squeezenet_checkpoint, *args[:-1], tmp_path / "eval-plain")
    assert code == 1 and "pass --model" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "eval-plain").exists()


def test_evaluate_gives_each_source_its_accuracy_with_its_own_interval(cli, tmp_path, squeezenet_checkpoint):
    data = write_phantom_folder(tmp_path / "data", per_class=4, size=72, seed=4)
    images = sorted(data.rglob("*.png"))
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "patient_id", "source"])
        for index, path in enumerate(images):
            writer.writerow([path, path.parent.name, f"p{index}", "site-a" if index % 3 else "site-b"])
    code, out, err = cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data", manifest,
                         "--split", "all", "--gradcam", "0", "--out", tmp_path / "eval")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "eval" / "predictions.csv").open()))
    per_source = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["sets"]["clean"]["per_source_accuracy"]
    assert set(per_source) == {"site-a", "site-b"}
    for source, figures in per_source.items():
        mine = [row for row in rows if row["source"] == source]
        assert figures["images"] == len(mine) and figures["accuracy"] == sum(int(r["correct"]) for r in mine) / len(mine)
        low, high = figures["ci95"]
        assert 0 <= low <= figures["accuracy"] <= high <= 1
        assert f"{source}: accuracy {figures['accuracy']:.3f} (95% CI {low:.3f}-{high:.3f})" in " ".join(out.split())
