"""The runner app on the phone: its identity, install or upgrade when the version differs, launch, result."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from cmx_bench import paths
from cmx_bench.errors import DeviceError
from cmx_bench.measure.android_dumpsys import parse_kv_dump

PACKAGE = "org.cmxbench.runner"
ACTIVITY = f"{PACKAGE}/.BenchActivity"
VERSION_NAME = "0.7.0"  # keep equal to versionName in android_runner/app/build.gradle
VERSION_CODE = 7  # and versionCode
DEVICE_DIR = "/data/local/tmp/cmx-bench"


def default_apk() -> Path:
    configured = os.environ.get("CMX_BENCH_RUNNER_APK")
    if configured:
        return Path(configured)
    return paths.project_root() / "android_runner/app/build/outputs/apk/debug/app-debug.apk"


def apk_version(apk: Path) -> str | None:
    """versionName from the output-metadata.json that Gradle writes beside the APK it built."""
    try:
        elements = json.loads((apk.parent / "output-metadata.json").read_text())["elements"]
        return str(next(e for e in elements if e.get("outputFile", apk.name) == apk.name)["versionName"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None


def installed_version(link) -> tuple[str | None, int | None]:
    """(versionName, uid) of the installed runner app, (None, None) when it is not installed."""
    found = parse_kv_dump(link.shell(["dumpsys", "package", PACKAGE], check=False))
    uid = found.get("userId") or found.get("appId")
    return found.get("versionName"), int(uid) if uid and uid.isdigit() else None


def ensure_installed(link, apk: Path | None) -> dict:
    """Install or upgrade the runner when its version differs from this cmx-bench's; returns what was done."""
    have, uid = installed_version(link)
    if have == VERSION_NAME:
        return {"version": have, "uid": uid, "installed_now": False}
    apk = apk or default_apk()
    if not apk.is_file():
        state = f"has version {have}" if have else "does not have it"
        raise DeviceError(f"the runner app {PACKAGE} {VERSION_NAME} is needed and {link.serial} {state}; build it "
                          f"(android_runner/README.md) or pass --apk PATH (looked for {apk})")
    version = apk_version(apk)
    if version != VERSION_NAME:
        raise DeviceError(f"{apk} is runner version {version or 'unknown'}, this cmx-bench needs {VERSION_NAME}; "
                          "rebuild the APK from this checkout")
    remote = f"{DEVICE_DIR}/runner-{VERSION_NAME}.apk"
    link.shell(["mkdir", "-p", DEVICE_DIR])
    link.push(apk, remote)
    out = link.shell(["pm", "install", "-r", "-t", remote], check=False)
    link.shell(["rm", "-f", remote], check=False)
    if "Success" not in out:
        raise DeviceError(f"installing the runner app on {link.serial} failed: {out.strip()[:200]}")
    have, uid = installed_version(link)
    return {"version": have, "uid": uid, "installed_now": True}


def launch(link, job_remote: str, result_name: str) -> None:
    out = link.shell(["am", "start", "-W", "-S", "-n", ACTIVITY, "--es", "job", job_remote,
                      "--es", "result", result_name])
    if "Error" in out:
        raise DeviceError(f"the runner app did not start on {link.serial}: "
                          f"{[line for line in out.splitlines() if 'Error' in line][-1][:200]}")


def describe_runtimes(link, timeout_s: float = 20.0) -> dict:
    """Ask the app which runtime versions it was built with (--ez describe true); nothing is pushed for this."""
    name = f"runtimes-{uuid.uuid4().hex[:12]}.json"
    out = link.shell(["am", "start", "-W", "-S", "-n", ACTIVITY, "--ez", "describe", "true", "--es", "result", name])
    if "Error" in out:
        raise DeviceError(f"the runner app did not start on {link.serial}: "
                          f"{[line for line in out.splitlines() if 'Error' in line][-1][:200]}")
    deadline = time.monotonic() + timeout_s
    while (answer := read_result(link, name)) is None:
        if time.monotonic() > deadline:
            raise DeviceError(f"the runner app on {link.serial} did not report its runtimes within {timeout_s:.0f} s; "
                              f"see 'adb -s {link.serial} logcat -s cmx-runner'")
        time.sleep(0.3)
    link.shell(["run-as", PACKAGE, "rm", "-f", f"files/{name}"], check=False)
    runtimes = answer.get("runtimes")
    if not isinstance(runtimes, dict):
        raise DeviceError(f"the runner app on {link.serial} does not report its runtimes (an older build?); install "
                          f"version {VERSION_NAME} (android_runner/README.md) or pass --apk")
    return {"executorch": runtimes.get("executorch"), "pytorch_lite": runtimes.get("pytorch_lite"),
            "reported_by": f"runner app {answer.get('runner_version')} (its build config)"}


def read_result(link, result_name: str) -> dict | None:
    text = link.read_text(["run-as", PACKAGE, "cat", f"files/{result_name}"])
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None  # still being written: the app renames into place, but a partial read is possible over run-as
