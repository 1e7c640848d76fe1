from cmx_bench.results.store import write_record
from tests.records import make_record


def test_report_over_run_folders(cli, tmp_path):
    for device in ("local", "pixel2"):
        for model in ("mobilenet_v2", "squeezenet1_1"):
            write_record(tmp_path / f"run-{device}", make_record(device=device, model=model))
    code, out, err = cli("report", tmp_path / "run-local", tmp_path / "run-pixel2", "--out", tmp_path / "combined")
    assert code == 0, err
    assert "4 runs" in out
    assert "pixel2 CPU %" in (tmp_path / "combined" / "report.md").read_text()


def test_report_without_records_is_a_one_line_error(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("report", tmp_path / "empty", "--out", tmp_path / "combined")
    assert code == 1 and "no run records" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "combined").exists()
