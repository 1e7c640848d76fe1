"""Resolve a --device name (profile name or serial) to a Device."""

from __future__ import annotations

from cmx_bench.devices.base import Device
from cmx_bench.devices.local import LocalDevice
from cmx_bench.devices.profiles import all_profiles, get_profile
from cmx_bench.errors import CmxError, UnknownNameError


def resolve_device(name: str) -> Device:
    if name == "local":
        return LocalDevice(get_profile("local"))
    profiles = all_profiles()
    if name in profiles:
        raise CmxError(f"device '{name}' is an Android profile and the Android backend is not available in "
                       "this version; run on --device local")
    raise UnknownNameError(f"unknown device '{name}'; choose one of: {', '.join(profiles)}")
