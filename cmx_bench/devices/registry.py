"""Resolve a --device name (profile name or serial) to a Device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmx_bench.devices.base import Device
from cmx_bench.devices.local import LocalDevice
from cmx_bench.devices.profiles import get_profile

if TYPE_CHECKING:  # the Android backend (adbutils) is imported only when a phone is asked for
    from cmx_bench.devices.android.settings import AndroidSettings


def resolve_device(name: str, android: "AndroidSettings | None" = None) -> Device:
    """'local' is the host; anything else is an Android profile name or an adb serial."""
    if name == "local":
        return LocalDevice(get_profile("local"))
    from cmx_bench.devices.android.discovery import find_phone
    from cmx_bench.devices.android.phone_device import AndroidDevice
    from cmx_bench.devices.android.settings import AndroidSettings

    link, profile = find_phone(name)
    return AndroidDevice(link, profile, android or AndroidSettings())
