"""Attached phones: what each one is (model, ABI, Android, battery, thermal) and which device profile it matches."""

from __future__ import annotations

from cmx_bench.devices.android import restore
from cmx_bench.devices.android.adb_link import PhoneLink, adb_client, attached_serials
from cmx_bench.devices.profiles import all_profiles, get_profile
from cmx_bench.errors import DeviceError, UnknownNameError
from cmx_bench.measure.android_dumpsys import CPU, SKIN, hottest, parse_battery, parse_getprop, parse_thermal

GENERIC_PROFILE = "android-generic"


def match_profile(props: dict[str, str]) -> dict:
    """The profile whose ro.product.model or ro.product.device matches; the generic one otherwise."""
    model, device = props.get("ro.product.model", ""), props.get("ro.product.device", "")
    for profile in all_profiles().values():
        match = profile.get("match", {})
        if profile["kind"] == "android" and (model in match.get("product_model", [])
                                             or device in match.get("product_device", [])):
            return profile
    return get_profile(GENERIC_PROFILE)


def phone_state(link: PhoneLink) -> dict:
    """Battery and thermal state now."""
    battery = parse_battery(link.shell(["dumpsys", "battery"], check=False))
    thermal = parse_thermal(link.shell(["dumpsys", "thermalservice"], check=False))
    return {"battery_level_pct": battery["level_pct"], "charging": battery["charging"],
            "battery_temperature_c": battery["temperature_c"], "thermal_status": thermal["status"],
            "skin_temperature_c": hottest(thermal["temperatures"], SKIN),
            "cpu_temperature_c": hottest(thermal["temperatures"], CPU)}


def describe(link: PhoneLink) -> dict:
    props = parse_getprop(link.shell(["getprop"]))
    profile = match_profile(props)
    governor = link.read_text(["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"])
    return {
        "kind": "android", "serial": link.serial, "profile": profile["name"],
        "model": props.get("ro.product.model"), "device": props.get("ro.product.device"),
        "manufacturer": props.get("ro.product.manufacturer"), "abi": props.get("ro.product.cpu.abi"),
        "android": props.get("ro.build.version.release"), "sdk": props.get("ro.build.version.sdk"),
        "governor": governor.strip() if governor else None, **phone_state(link),
        "emulated": ("virtual phone (cmx-bench; the figures are the host's)" if props.get("ro.cmx_bench.virtual") == "1"
                     else "emulator" if props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1" else None),
    }


def connect(serial: str) -> PhoneLink:
    """A link to an attached phone, after undoing anything a vanished earlier run left changed on it."""
    link = PhoneLink(adb_client(), serial)
    restore.restore(link)
    return link


def list_phones() -> list[dict]:
    client = adb_client()
    return [describe(connect(serial)) for serial in attached_serials(client)]


def find_phone(name: str) -> tuple[PhoneLink, dict]:
    """`name` is a profile name (the first attached phone matching it) or a serial."""
    profiles = all_profiles()
    is_profile = name in profiles and profiles[name]["kind"] == "android"
    choices = ", ".join(p for p in profiles if p != GENERIC_PROFILE)
    try:
        serials = attached_serials(adb_client())
    except DeviceError as exc:
        if is_profile:
            raise
        raise UnknownNameError(f"unknown device '{name}': not a profile ({choices}), and no serial could be looked "
                               f"up: {exc}") from exc
    if not is_profile and name not in serials:
        raise UnknownNameError(f"unknown device '{name}': not a profile ({choices}) nor an attached serial "
                               f"(attached: {', '.join(serials) or 'none'}; see 'adb devices')")
    if not is_profile:
        link = connect(name)
        return link, match_profile(parse_getprop(link.shell(["getprop"])))
    for serial in serials:
        link = connect(serial)
        profile = match_profile(parse_getprop(link.shell(["getprop"])))
        if profile["name"] == name:
            return link, profile
    raise DeviceError(f"no attached phone matches profile '{name}' ({profiles[name]['display_name']}); attached: "
                      f"{', '.join(serials) or 'none'}; check 'adb devices' or pass a serial with --device")
