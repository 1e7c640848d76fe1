import base64

import pandas as pd

from cmx_bench.report import plots
from cmx_bench.report.writers import write_report
from tests.records import make_record

PAPER = {"cpu_pct": 51.0, "memory_mb": 65.3, "energy": "Heavy", "source": "paper Table 5 (PyTorch Mobile, 2020)"}


def test_report_files_hold_measured_and_paper_values(tmp_path):
    records = [make_record(model="shufflenet_v2_x1_0", device="pixel2", paper=PAPER, median=12.5),
               make_record(model="squeezenet1_1", median=4.0)]
    paths = write_report(records, tmp_path)
    frame = pd.read_csv(paths["csv"])
    row = frame[frame.model == "shufflenet_v2_x1_0"].iloc[0]
    assert row.paper_cpu_pct == 51.0 and row.paper_memory_mb == 65.3 and row.paper_energy == "Heavy"
    assert abs(row.latency_median_ms - 12.5) < 0.1 and row.cpu_device_pct == 40.0
    markdown = paths["markdown"].read_text()
    assert "CPU % (paper)" in markdown and "randomly initialised" in markdown
    assert "- Energy method `power_model`: test" in markdown
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page  # self-contained
    latency_png = (tmp_path / "latency.png").read_bytes()
    assert latency_png.startswith(b"\x89PNG\r\n\x1a\n") and "![Latency](latency.png)" in markdown
    # Runs on two devices: the file is their box plot by model and device, and the page embeds the very same figure.
    assert latency_png == plots.latency_by_model_and_device(records)
    assert base64.b64encode(latency_png).decode() in page
