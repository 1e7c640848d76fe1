"""A small sweep on phantoms: one record per cell and data kind, resumable, Tables 2-4 layout with the paper's values."""

import json

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.data.prepare import prepare_manifest
from cmx_bench.data.snapshot_set import make_snapshot_set
from cmx_bench.report.sweep_tables import arrow
from cmx_bench.train.players import train_classifier
from cmx_bench.train.presets import preset
from cmx_bench.tomlcompat import tomllib
from cmx_bench.train.sweep import paper_grid


def test_paper_grid_matches_the_tables():
    cells = paper_grid()
    assert len(cells) == 4 * (4 + 3 - 1)  # alpha rows at T=5 and T rows at alpha=0.8 share (0.8, 5)
    assert {(c.alpha, c.temperature) for c in cells if c.loss == "pc0.8"} == {
        (0.2, 5), (0.4, 5), (0.6, 5), (0.8, 5), (0.8, 1), (0.8, 10)}


def test_arrows_follow_the_paper():
    assert arrow(0.861, 0.851) == "↓" and arrow(0.777, 0.796) == "↑" and arrow(0.852, 0.852) == "-"


def test_sweep_writes_cells_resumes_and_renders_tables(cli, tmp_path):
    folder = write_phantom_folder(tmp_path / "phantoms", per_class=10, size=72, seed=5)
    from cmx_bench.data.images import list_images

    manifest = tmp_path / "split.csv"
    prepare_manifest(manifest, existing=list_images(folder, ("covid", "normal", "pneumonia")))
    snapshots = make_snapshot_set(manifest, tmp_path / "snapshots")["manifest"]
    teacher = train_classifier("densenet121", manifest, tmp_path / "rf", preset("tiny", epochs=1))["checkpoint"]
    args = ["sweep", "-m", "squeezenet1_1", "--data", manifest, "--snapshots", snapshots, "--teacher", teacher,
            "--alphas", "0.8", "--temperatures", "5", "--losses", "pc0.8,arcface", "--preset", "tiny", "--epochs", "1",
            "--out", tmp_path / "sweep"]
    code, out, err = cli(*args)
    assert code == 0, err
    cells = sorted((tmp_path / "sweep" / "cells").glob("*.json"))
    assert len(cells) == 4  # 2 losses (PC and ArcFace, which SqueezeNet takes on a pooled cosine head) x 2 sets
    record = json.loads(cells[0].read_text())
    assert 0 <= record["test_accuracy"] <= 1 and record["kind"] == "sweep_cell"
    tables = (tmp_path / "sweep" / "tables.md").read_text()
    assert "PC (xi=0.8) (paper)" in tables and "0.824/0.796 ↓" in tables  # SqueezeNet, alpha 0.8, T 5, PC 0.8
    mtimes = [c.stat().st_mtime_ns for c in cells]
    code, out, _ = cli(*args)
    assert code == 0 and [c.stat().st_mtime_ns for c in cells] == mtimes  # resumed: nothing retrained
    # The folder's recipe.toml is the same sweep: run from it, every cell is found done.
    kept = tomllib.loads((tmp_path / "sweep" / "recipe.toml").read_text())
    assert kept["losses"] == "pc0.8,arcface" and kept["epochs"] == 1 and kept["model"] == "squeezenet1_1"
    code, _, err = cli("sweep", "--recipe", tmp_path / "sweep" / "recipe.toml", "--out", tmp_path / "sweep")
    assert code == 0, err
    assert [c.stat().st_mtime_ns for c in cells] == mtimes
    assert record["recipe"]["augment"] == "light" and "alpha" not in record["recipe"]
    code, out, err = cli(*args, "--augment", "strong")
    assert code == 1 and "another recipe (augment light there, strong now)" in err
    assert len(err.strip().splitlines()) == 1
    # A cell recorded before `select` existed was picked by validation score: it still resumes, and only with that.
    older = {**record, "recipe": {k: v for k, v in record["recipe"].items() if k != "select"}}
    cells[0].write_text(json.dumps(older))
    mtimes = [c.stat().st_mtime_ns for c in cells]
    code, _, err = cli(*args)
    assert code == 0, err
    assert [c.stat().st_mtime_ns for c in cells] == mtimes
    code, _, err = cli(*args, "--select", "loss")
    assert code == 1 and "another recipe (select score there, loss now)" in err
