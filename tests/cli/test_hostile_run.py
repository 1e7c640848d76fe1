"""Hostile conditions through the real CLI: a full disk, refused input, SIGTERM (issue #26)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.results.store import write_record
from tests.records import make_record

QUICK = ["--iters", "3", "--min-duration", "0", "--no-sampling"]


def _one_line(code, stdout, stderr) -> str:
    message = stderr.strip()
    assert code == 1, (stdout, stderr)
    assert "Traceback" not in stdout + stderr, stderr
    assert len(message.splitlines()) == 1 and message.startswith("error:"), message
    return message


@pytest.fixture
def full_disk(tmp_path):
    """A 20 KB tmpfs: room for a run record, not for a report."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20k", "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


def _names_a_full_disk(message: str, folder) -> None:
    assert str(folder) in message and ("free" in message or "space" in message), message


def _no_report_files(folder) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.name != "records"]
    assert leftovers == [], leftovers  # no table5.csv without report.md, no figure, no temporary file


def test_a_full_disk_during_run_is_one_line_and_keeps_the_record_without_a_partial_report(cli, full_disk):
    message = _one_line(*cli("run", "--model", "squeezenet1_1", *QUICK, "--out", full_disk))
    _names_a_full_disk(message, full_disk)
    [run_dir] = full_disk.iterdir()
    assert "measured results are kept" in message and str(run_dir) in message
    [record] = (run_dir / "records").iterdir()  # whole, and nothing half-written beside it
    assert json.loads(record.read_text())["status"] == "ok"
    _no_report_files(run_dir)


def test_a_full_disk_during_report_leaves_nothing_of_the_report(cli, full_disk, tmp_path):
    write_record(tmp_path / "run", make_record(device="local"))
    write_record(tmp_path / "run", make_record(device="pixel2", seed=1))
    message = _one_line(*cli("report", tmp_path / "run", "--out", full_disk / "combined"))
    _names_a_full_disk(message, full_disk)
    assert list(full_disk.iterdir()) == []  # not even the folder the report would have gone to


def test_a_full_disk_during_evaluate_leaves_no_partial_evaluation(cli, full_disk, tmp_path, squeezenet_checkpoint):
    data = write_phantom_folder(tmp_path / "data", per_class=2, size=72, seed=4)
    message = _one_line(*cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data", data,
                             "--split", "all", "--gradcam", "0", "--out", full_disk / "eval"))
    _names_a_full_disk(message, full_disk)
    assert list(full_disk.iterdir()) == []


def _bad_image_data(tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=2, size=72, seed=4)
    (data / "covid" / "broken.png").write_bytes(b"not a png at all")
    return data


def test_run_refusing_a_bad_image_makes_no_output_folder(cli, tmp_path):
    out = tmp_path / "reports"
    message = _one_line(*cli("run", "-m", "squeezenet1_1", "--data", _bad_image_data(tmp_path), *QUICK,
                             "--out", out))
    assert "broken.png" in message
    assert not out.exists()


def test_evaluate_refusing_a_bad_image_makes_no_output_folder(cli, tmp_path, squeezenet_checkpoint):
    out = tmp_path / "eval"
    message = _one_line(*cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data",
                             _bad_image_data(tmp_path), "--split", "all", "--gradcam", "0", "--out", out))
    assert "broken.png" in message
    assert not out.exists()


def test_evaluate_stopped_by_an_image_that_fails_to_decode_removes_the_folder_it_made(cli, tmp_path,
                                                                                     squeezenet_checkpoint):
    data = write_phantom_folder(tmp_path / "data", per_class=2, size=72, seed=4)
    image = next((data / "normal").iterdir())
    image.write_bytes(image.read_bytes()[:60])  # the header reads; the pixels do not
    out = tmp_path / "eval"
    message = _one_line(*cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data", data,
                             "--split", "all", "--gradcam", "0", "--out", out))
    assert image.name in message
    assert not out.exists()


def _runner_under(folder) -> psutil.Process | None:
    """A host runner whose job lies under `folder` (its work folder is made in TMPDIR)."""
    for process in psutil.process_iter(["cmdline"]):
        words = process.info["cmdline"] or []
        if "cmx_bench.runner" in words and any(word.startswith(str(folder)) for word in words):
            return process
    return None


def _wait_for(find, process: subprocess.Popen, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"not seen within {timeout_s} s")


def test_sigterm_keeps_the_measured_record_and_the_report_and_removes_the_work_folder(tmp_path):
    temp, out = tmp_path / "tmp", tmp_path / "out"
    temp.mkdir()
    # The second run lasts at least 5 s, so that SIGTERM lands while its runner works.
    command = [sys.executable, "-m", "cmx_bench", "run", "--model", "squeezenet1_1", "--model", "mobilenet_v2",
               "--iters", "3", "--min-duration", "5", "--no-sampling", "--out", str(out)]
    process = subprocess.Popen(command, env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        record = _wait_for(lambda: next(out.glob("*/records/*.json"), None), process, 600)
        runner = _wait_for(lambda: _runner_under(temp), process, 600)
        process.send_signal(signal.SIGTERM)  # to cmx-bench alone, as a scheduler that knows only its pid does
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr, stderr
    assert json.loads(record.read_text())["config"]["model"] == "squeezenet1_1"
    assert (record.parent.parent / "report.md").is_file()
    assert not runner.is_running()
    assert list(temp.glob("cmx-bench-*")) == []


def test_run_skip_bad_leaves_the_bad_image_out_and_counts_it(cli, tmp_path, squeezenet_checkpoint):
    out = tmp_path / "reports"
    code, stdout, stderr = cli("run", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data",
                               _bad_image_data(tmp_path), "--skip-bad", *QUICK, "--out", out)
    assert code == 0, stderr
    [record] = [json.loads(p.read_text()) for p in out.glob("*/records/*.json")]
    assert record["config"]["data_skipped"]["count"] == 1 and "broken.png" in record["config"]["data_skipped"]["first"][0]
    assert record["accuracy"]["images"] == 6 == len(record["accuracy"]["labels"])
    assert "1 image(s) of the data left out" in next(out.glob("*/report.md")).read_text()
