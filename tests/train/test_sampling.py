import json
from collections import Counter

import pytest

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.train.sampling import BalancedSampler, balanced_weights


def test_each_label_carries_the_same_total_weight():
    weights, sizes = balanced_weights(["a"] * 6 + ["b"] * 2 + ["c"])
    assert sizes == {"a": 6, "b": 2, "c": 1}
    assert sum(weights[:6]) == pytest.approx(sum(weights[6:8])) == pytest.approx(weights[8]) == pytest.approx(1.0)


def test_with_sources_each_label_is_shared_equally_by_its_sources():
    labels = ["covid"] * 8 + ["normal"] * 10 + ["normal"] * 2
    sources = ["x"] * 8 + ["kids"] * 10 + ["x"] * 2
    weights, sizes = balanced_weights(labels, sources)
    assert sizes == {"kids / normal": 10, "x / covid": 8, "x / normal": 2}
    assert sum(weights[:8]) == pytest.approx(1.0)                       # covid: one source
    assert sum(weights[8:18]) == pytest.approx(sum(weights[18:])) == pytest.approx(0.5)  # normal: two, halved


def test_draws_are_balanced_repeatable_and_split_over_ranks_without_loss():
    groups = ["big"] * 600 + ["mid"] * 120 + ["rare"] * 30
    weights, _ = balanced_weights(groups)
    one = BalancedSampler(weights, seed=0, epoch=3)
    draws = list(one)
    assert len(draws) == len(one) == 750
    counts = Counter(groups[i] for i in draws)
    assert all(200 <= counts[g] <= 300 for g in ("big", "mid", "rare")), counts  # 250 each expected
    assert draws == list(BalancedSampler(weights, seed=0, epoch=3))
    assert draws != list(BalancedSampler(weights, seed=0, epoch=4))
    ranks = [list(BalancedSampler(weights, seed=0, epoch=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 375
    assert [i for pair in zip(*ranks) for i in pair] == draws


def _manifest(tmp_path, with_source: bool):
    data = write_phantom_folder(tmp_path / "data", per_class=6, size=64, seed=5)
    rows = ["file,label,patient_id,split" + (",source" if with_source else "")]
    for index, path in enumerate(sorted(data.rglob("*.png"))):
        split = "val" if index % 6 == 0 else "train"
        source = ("hospital-a" if index % 3 else "hospital-b") if with_source else None
        rows.append(f"{path},{path.parent.name},p{index},{split}" + (f",{source}" if source else ""))
    manifest = tmp_path / ("with.csv" if with_source else "without.csv")
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def test_train_with_balance_source_records_its_groups_or_names_the_missing_column(cli, tmp_path):
    args = ["train", "ms", "--model", "squeezenet1_1", "--preset", "tiny", "--epochs", "1", "--workers", "0",
            "--balance", "source"]
    code, _, err = cli(*args, "--data", _manifest(tmp_path, True), "--out", tmp_path / "ms")
    assert code == 0, err
    meta = json.loads((tmp_path / "ms" / "history.json").read_text())["meta"]
    assert meta["config"]["balance"] == "source"
    assert sum(meta["balance_groups"].values()) == meta["counts"]["train"] == 15
    assert "hospital-b / covid" in meta["balance_groups"]
    code, _, err = cli(*args, "--data", _manifest(tmp_path, False), "--out", tmp_path / "ms2")
    assert code == 1 and "'source' column" in err and len(err.strip().splitlines()) == 1, err
