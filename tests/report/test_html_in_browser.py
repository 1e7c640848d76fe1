"""The combined report over two devices and three models renders every view and opens cleanly in headless Chromium."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cmx_bench.report.writers import write_report
from tests.records import make_record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAPER = {"cpu_pct": 51.0, "memory_mb": 65.3, "energy": "Heavy", "source": "paper Table 5"}


def _records():
    records = []
    for d_index, device in enumerate(("local", "pixel2")):
        for m_index, model in enumerate(("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")):
            records.append(make_record(device=device, model=model, median=4.0 + m_index + 3 * d_index,
                                       seed=d_index * 3 + m_index, accuracy={"accuracy": 0.8 + 0.05 * m_index,
                                                                             "auroc": {"covid_vs_rest": 0.9}},
                                       paper=PAPER if device == "pixel2" else None))
    return records


def _console_messages(page: Path, screenshot: Path, tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={screenshot}", "--window-size=1400,2400", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "ERR_" in line]


@pytest.fixture
def report(tmp_path):
    return write_report(_records(), tmp_path / "report", title="two devices")


def test_all_views_render(report):
    markdown = report["markdown"].read_text()
    for view in ("Table 5 view (networks by devices)", "Latency", "Accuracy versus latency", "Energy per inference"):
        assert f"## {view}" in markdown
    assert "pixel2 CPU % (paper)" in markdown and "local CPU %" in markdown
    page = report["html"].read_text()
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from elsewhere


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is installed by .ci/run")
def test_html_opens_in_headless_chromium_without_console_errors(report, tmp_path):
    screenshot = tmp_path / "report.png"
    assert _console_messages(report["html"], screenshot, tmp_path) == []
    assert screenshot.stat().st_size > 20_000  # a rendered page with tables and figures, not a blank one


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is installed by .ci/run")
def test_the_console_check_catches_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('broken page')</script></body></html>")
    assert any("broken page" in line for line in _console_messages(page, tmp_path / "b.png", tmp_path))


def _five_runs():
    runs = []
    for index, (model, label) in enumerate([("mobilenet_v2", None), ("shufflenet_v2_x1_0", "threads-1"),
                                            ("shufflenet_v2_x1_0", "threads-2"), ("squeezenet1_1", None),
                                            ("squeezenet1_1", "nightly")]):
        record = make_record(model=model, run_id=f"20261127T00000{index}Z-run00{index}", label=label, seed=index,
                             median=5.0 + index)
        record["runner"]["phases"]["end"] = record["timeseries"]["t"][-4]
        record["timeseries"]["rss_mb"][-3:] = [0.0, 0.0, 0.0]  # the process has exited
        runs.append(record)
    return runs


def test_a_report_over_five_runs_tells_each_row_apart(tmp_path):
    paths = write_report(_five_runs(), tmp_path / "five")
    markdown = paths["markdown"].read_text()
    section = markdown[markdown.index("## All runs"):markdown.index("## Notes")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "Run" not in line]
    assert sorted(row.split(" | ")[0][2:] for row in rows) == ["nightly", "run000", "run003", "threads-1", "threads-2"]
    assert "`threads-1` = run 20261127T000001Z-run001" in markdown
    assert (tmp_path / "five" / "cpu_and_memory.png").is_file()


def test_resource_lines_end_when_the_runner_exits():
    from cmx_bench.report.plots import _until_exit

    times, cpu, rss = _until_exit(_five_runs()[0])
    assert len(times) == len(cpu) == len(rss) == 27 and min(rss) > 0


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is installed by .ci/run")
def test_five_run_report_opens_in_headless_chromium(tmp_path):
    paths = write_report(_five_runs(), tmp_path / "five")
    screenshot = tmp_path / "five.png"
    assert _console_messages(paths["html"], screenshot, tmp_path) == []
    assert screenshot.stat().st_size > 20_000
