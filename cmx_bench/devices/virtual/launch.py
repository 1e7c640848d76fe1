"""Start a virtual phone for `cmx-bench virtual-device` and tests: listen, optionally pre-install the runner, adb connect."""

from __future__ import annotations

import tempfile
from pathlib import Path

from cmx_bench.devices.android import runner_app
from cmx_bench.devices.android.adb_link import adb_client
from cmx_bench.devices.profiles import get_profile
from cmx_bench.devices.virtual.device import VirtualDevice
from cmx_bench.devices.virtual.phone import Faults
from cmx_bench.devices.virtual.standin_apk import write_standin_apk
from cmx_bench.errors import CmxError, DeviceError


def standin_runner_apk(folder: Path, version: str = runner_app.VERSION_NAME) -> Path:
    """A stand-in APK of the runner app that the virtual phone installs (it runs the host runner instead)."""
    return write_standin_apk(Path(folder) / f"cmx-runner-standin-{version}.apk", runner_app.PACKAGE,
                             runner_app.VERSION_CODE, version)


def start_virtual_device(profile_name: str, port: int, state_dir: Path | None = None, faults: Faults | None = None,
                         preinstall_runner: bool = False, runtimes: dict[str, str] | None = None,
                         profiling: bool = True) -> VirtualDevice:
    profile = get_profile(profile_name)
    if profile["kind"] != "android":
        raise CmxError(f"profile '{profile_name}' is not an Android phone; choose an Android profile such as pixel2")
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix=f"cmx-virtual-{profile_name}-"))
    state.mkdir(parents=True, exist_ok=True)
    device = VirtualDevice(profile, port, state, faults, runtimes, profiling)
    try:
        device.start()
    except OSError as exc:
        raise CmxError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port") from exc
    if preinstall_runner:
        apk = standin_runner_apk(state)
        device.phone.fs_path("/data/local/tmp/runner.apk").write_bytes(apk.read_bytes())
        device.phone.run_shell("pm install -r /data/local/tmp/runner.apk")
    return device


def adb_connect(port: int) -> str:
    """`adb connect 127.0.0.1:PORT` through the running adb server; returns the server's answer."""
    answer = adb_client().connect(f"127.0.0.1:{port}", timeout=10)
    if "connected" not in answer:
        raise DeviceError(f"adb did not connect to the virtual device on 127.0.0.1:{port}: {answer}")
    return answer
