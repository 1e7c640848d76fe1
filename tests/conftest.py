"""Shared fixtures: a session-wide artifact cache, generated images, checkpoints written by the tests."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.nets.registry import build_model, get_card


@pytest.fixture(scope="session", autouse=True)
def artifact_cache(tmp_path_factory):
    """Exports are slow (~20 s each): every test of a session shares one cache, never the user's."""
    cache = tmp_path_factory.mktemp("artifact-cache")
    os.environ["CMX_BENCH_CACHE"] = str(cache)
    yield cache


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    return write_phantom_folder(tmp_path_factory.mktemp("phantoms"), per_class=4, size=128, seed=7)


@pytest.fixture(scope="session")
def squeezenet_checkpoint(tmp_path_factory):
    """A state dict of squeezenet1_1 with seeded weights, saved as torch.save(model.state_dict())."""
    torch.manual_seed(3)
    model = build_model(get_card("squeezenet1_1"))
    path = tmp_path_factory.mktemp("ckpt") / "squeezenet1_1.pth"
    torch.save(model.state_dict(), path)
    return path


def run_cli(monkeypatch, capsys, *args):
    """Run the cmx-bench entry point in-process; returns (exit code, stdout, stderr); capsys None: output not kept."""
    from cmx_bench.cli.main import main

    monkeypatch.setattr(sys, "argv", ["cmx-bench", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if capsys is None:
        return code, "", ""
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli(monkeypatch, capsys):
    return lambda *args: run_cli(monkeypatch, capsys, *args)
