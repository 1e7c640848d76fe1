"""The Table 5 view says what its columns are: the model's memory, artifact size, stability as judged, energy class."""

import pandas as pd

from cmx_bench.report.table5 import display_frame, table5_frame, table5_wide
from tests.records import make_record

PAPER = {"cpu_pct": 51.0, "memory_mb": 65.3, "energy": "Heavy"}


def test_memory_columns_compare_like_with_like():
    host = make_record(device="local", memory=640.0)
    phone = make_record(device="pixel2", memory=80.0, paper=PAPER)
    shown = display_frame(table5_frame([host, phone])).set_index("Device")
    # The model's own share everywhere; the app's total PSS only where the device is a phone.
    assert shown.loc["local", "Model memory (MB)"] == 10.0 and pd.isna(shown.loc["local", "App PSS (MB)"])
    assert shown.loc["pixel2", "App PSS (MB)"] == 75.0
    columns = list(shown.columns)
    assert columns.index("Memory MB (paper)") == columns.index("App PSS (MB)") + 1
    assert columns.index("CPU % (paper)") == columns.index("CPU % (device)") + 1
    assert shown.loc["local", "Artifact (MB)"] == 5.0 and shown.loc["local", "Load (ms)"] == 12.0


def test_host_only_view_has_no_app_memory_and_the_unstable_flag_matches_the_cv_shown():
    records = [make_record(model="mobilenet_v2", noise=0.1, seed=1), make_record(model="squeezenet1_1", noise=3.0, seed=2)]
    shown = display_frame(table5_frame(records)).set_index("Model")
    assert "App PSS (MB)" not in shown.columns and "CV" not in shown.columns
    for model, row in shown.iterrows():
        flagged = row["Latency median (ms) [95% CI]"].endswith("unstable")
        assert flagged == (row["Robust CV"] > 0.10), model
    assert shown.loc["squeezenet1_1", "Latency median (ms) [95% CI]"].endswith("unstable")


def test_wide_view_keeps_runs_of_the_same_model_apart():
    records = [make_record(run_id="20261127T000000Z-aaaaaa", median=10.0),
               make_record(run_id="20261127T000100Z-bbbbbb", median=15.0, label="after")]
    wide = table5_wide(table5_frame(records))
    assert sorted(wide.Run) == ["aaaaaa", "after"]
    assert sorted(round(v) for v in wide["local Latency ms"]) == [10, 15]
    assert wide["Size MB"].tolist() == [5.0, 5.0]


def test_accuracy_is_shown_with_its_bootstrap_interval_where_the_record_has_one():
    import numpy as np

    from cmx_bench.evaluate.metrics import classification_metrics

    labels = np.repeat([0, 1, 2], 10)
    probs = np.eye(3)[np.where(np.arange(30) % 10 < 8, labels, (labels + 1) % 3)] * 0.8 + 0.05
    block = classification_metrics(probs, labels, ("covid", "normal", "pneumonia"))
    with_ci = make_record(model="mobilenet_v2", accuracy=block)
    without = make_record(model="squeezenet1_1", accuracy={"accuracy": 0.5, "auroc": {"covid_vs_rest": 0.6}})
    shown = display_frame(table5_frame([with_ci, without])).set_index("Model")
    low, high = block["ci95"]["accuracy"]
    assert shown.loc["mobilenet_v2", "Accuracy [95% CI]"] == f"0.800 [{low:.3f}, {high:.3f}]" and low < 0.8 < high
    assert shown.loc["squeezenet1_1", "Accuracy [95% CI]"] == "0.500"
