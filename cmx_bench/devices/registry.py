"""Resolve a --device name (profile name or serial) to a Device."""

from __future__ import annotations

from cmx_bench.devices.base import Device, RunSettings
from cmx_bench.devices.local import LocalDevice
from cmx_bench.devices.profiles import get_profile


def resolve_device(name: str, settings: RunSettings | None = None) -> Device:
    """'local' is the host; anything else is an Android profile name or an adb serial."""
    if name == "local":
        return LocalDevice(get_profile("local"))
    from cmx_bench.devices.android.discovery import find_phone
    from cmx_bench.devices.android.phone_device import AndroidDevice

    link, profile = find_phone(name)
    return AndroidDevice(link, profile, (settings or RunSettings()).device_dir)
