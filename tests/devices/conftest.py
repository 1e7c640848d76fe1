"""A private adb server (Debian's adb) for the session and virtual phones that it `adb connect`s."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

from cmx_bench.devices.virtual.launch import adb_connect, start_virtual_device
from cmx_bench.devices.virtual.phone import Faults


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def adb_server():
    """Port of an adb server of our own, so that tests never touch the user's server or phones."""
    adb = shutil.which("adb")
    if adb is None:
        if os.environ.get("CMX_BENCH_REQUIRE_ADB") == "1":
            pytest.fail("adb is not installed but CMX_BENCH_REQUIRE_ADB=1 (.ci/run installs it with apt-get)")
        pytest.skip("adb is not installed (Debian: apt-get install adb)")
    port = free_port()
    subprocess.run([adb, "-P", str(port), "start-server"], check=True, capture_output=True, timeout=60)
    previous = os.environ.get("ANDROID_ADB_SERVER_PORT")
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(port)
    yield port
    subprocess.run([adb, "-P", str(port), "kill-server"], capture_output=True, timeout=60)
    if previous is None:
        os.environ.pop("ANDROID_ADB_SERVER_PORT", None)
    else:
        os.environ["ANDROID_ADB_SERVER_PORT"] = previous


def adb(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real adb client against the session's server."""
    return subprocess.run(["adb", "-P", os.environ["ANDROID_ADB_SERVER_PORT"], *args], capture_output=True,
                          text=True, timeout=120, check=check)


def table5_cells(report_markdown: str, model: str, fmt: str = "pte") -> dict[str, str]:
    """One row of a report's Table 5 view (networks by devices), as {column: cell}."""
    lines = report_markdown.splitlines()
    header = next(line for line in lines if line.startswith("| Model | Format |"))
    row = next(line for line in lines if line.startswith(f"| {model} | {fmt} |"))
    return dict(zip(header.strip("| ").split(" | "), row.strip("| ").split(" | ")))


def paper_pixel2_cell(cells: dict[str, str]) -> tuple[str, str, str]:
    return cells["pixel2 CPU % (paper)"], cells["pixel2 Memory MB (paper)"], cells["pixel2 Energy (paper)"]


def records_in(folder) -> list[dict]:
    """Every run record written under a --out folder."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/records/*.json"))]


@pytest.fixture
def virtual_phone(adb_server, tmp_path, monkeypatch):
    """Factory: start a virtual phone with faults, `adb connect` it; disconnected and stopped after the test."""
    monkeypatch.setenv("CMX_BENCH_STATE", str(tmp_path / "cmx-state"))
    started = []

    def start(profile: str = "pixel2", preinstall_runner: bool = True, runtimes: dict | None = None,
              profiling: bool = True, **faults):
        device = start_virtual_device(profile, 0, tmp_path / f"phone{len(started)}", Faults(**faults),
                                      preinstall_runner, runtimes, profiling)
        started.append(device)
        adb_connect(device.port)
        device.serial = f"127.0.0.1:{device.port}"
        return device

    yield start
    for device in started:
        adb("disconnect", device.serial, check=False)
        device.stop()
