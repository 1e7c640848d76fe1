"""Each kind of bad input: a one-line error, exit code 1, and nothing left in the output folder."""

import json
import os

import pytest
import torch

from cmx_bench.export.manifest import manifest_path
from cmx_bench.export.service import export_to_folder
from cmx_bench.fileio import sha256_file
from cmx_bench.nets.registry import build_model, get_card


def _fails_cleanly(cli, out, *args, match):
    code, stdout, stderr = cli(*args)
    message = stderr.strip()
    assert code == 1, (stdout, stderr)
    assert len(message.splitlines()) == 1 and message.startswith("error:"), message
    assert match in message, message
    assert not out.exists() or not any(out.iterdir()), list(out.rglob("*"))


@pytest.fixture
def out(tmp_path):
    return tmp_path / "reports"


def test_unknown_names(cli, out):
    _fails_cleanly(cli, out, "run", "--model", "resnet9000", "--out", out, match="unknown model 'resnet9000'")
    _fails_cleanly(cli, out, "run", "--device", "iphone", "--out", out, match="unknown device 'iphone'")
    _fails_cleanly(cli, out, "run", "--format", "tflite", "--out", out, match="unknown format 'tflite'")


def test_bad_checkpoints(cli, out, tmp_path):
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "-w", tmp_path / "missing.pth", "--out", out,
                   match="does not exist")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(os.urandom(2048))
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "-w", corrupt, "--out", out, match="corrupt")
    pickled = tmp_path / "whole.pth"
    torch.save(build_model(get_card("squeezenet1_1")), pickled)
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "-w", pickled, "--out", out, match="--trust-pickle")


def test_corrupt_and_changed_artifacts(cli, out, tmp_path):
    for fmt in ("ptl", "pte"):
        [(path, manifest)] = export_to_folder("squeezenet1_1", [fmt], tmp_path / fmt)
        data = bytearray(path.read_bytes())
        data[: len(data) // 2] = os.urandom(len(data) // 2)
        path.write_bytes(bytes(data))
        _fails_cleanly(cli, out, "run", "--artifact", path, "--out", out, match="changed since export")
        manifest["sha256"] = sha256_file(path)  # a corrupt file that its manifest vouches for
        manifest_path(path).write_text(json.dumps(manifest))
        _fails_cleanly(cli, out, "run", "--artifact", path, "--out", out, match="corrupt")


def test_unwritable_report_folder(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            target = "/proc/cmx-bench-reports"  # running as root: a folder nobody can create
        else:
            target = locked / "reports"
        code, _, stderr = cli("run", "-m", "squeezenet1_1", "--out", target)
        assert code == 1 and len(stderr.strip().splitlines()) == 1 and "not writable" in stderr
    finally:
        locked.chmod(0o700)


def test_unreadable_data(cli, out, tmp_path):
    (tmp_path / "data" / "covid").mkdir(parents=True)
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "--data", tmp_path / "data", "--out", out,
                   match="covid holds no images")
    (tmp_path / "data" / "covid" / "a.png").write_bytes(b"")
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "--data", tmp_path / "data", "--out", out,
                   match="no 'normal' subfolder")


def test_unreadable_image_is_named(cli, out, tmp_path, phantom_dir):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(phantom_dir, data)
    (data / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    _fails_cleanly(cli, out, "run", "-m", "squeezenet1_1", "--data", data, "--out", out, match="broken.png")
