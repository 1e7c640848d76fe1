"""Parsers for the Android outputs the backend reads: dumpsys meminfo, battery, batterystats, thermalservice,
power-stats rails, df, and /sys files. Each is tested on layouts of several Android releases (tests/fixtures/android)."""

from __future__ import annotations

import re

from cmx_bench.errors import ParseError
from cmx_bench.measure.parse_guard import parser


class NoProcessError(ParseError):
    """`dumpsys meminfo` found no process of that name (it has not started yet, or it died)."""


@parser("dumpsys meminfo")
def parse_meminfo_totals_kb(text: str) -> dict:
    """TOTAL PSS / RSS / SWAP PSS in KB from the App Summary (Android 10+), or `TOTAL:` (8-9), or the table's TOTAL row."""
    if "No process found for:" in text:
        raise NoProcessError(text.strip().splitlines()[-1])
    totals = {}
    for key, name in (("TOTAL PSS", "pss_kb"), ("TOTAL RSS", "rss_kb"), ("TOTAL SWAP PSS", "swap_pss_kb")):
        match = re.search(rf"^\s*{key}:\s+(\d+)", text, re.M) or re.search(rf"\s{key}:\s+(\d+)", text)
        if match:
            totals[name] = int(match.group(1))
    if "pss_kb" not in totals:
        match = re.search(r"^\s*TOTAL:\s+(\d+)", text, re.M) or re.search(r"^\s*TOTAL\s+(\d+)", text, re.M)
        if not match:
            raise ValueError("no TOTAL PSS in dumpsys meminfo output")
        totals["pss_kb"] = int(match.group(1))
    return totals


@parser("dumpsys battery")
def parse_battery(text: str) -> dict:
    """`dumpsys battery`: level (%), plugged sources, status code, temperature (deg C) and voltage (mV)."""
    def field(name):
        match = re.search(rf"^\s*{name}:\s*(\S+)", text, re.M)
        return match.group(1) if match else None

    def number(name):
        value = field(name)
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    plugged = {source: field(f"{source} powered") == "true" for source in ("AC", "USB", "Wireless", "Dock")}
    level, scale = number("level"), number("scale") or 100
    temperature = number("temperature")
    return {
        "level_pct": round(100 * level / scale) if level is not None else None,
        "charging": any(plugged.values()), "plugged": [k for k, v in plugged.items() if v],
        "status": number("status"), "temperature_c": temperature / 10 if temperature is not None else None,
        "voltage_mv": number("voltage"), "updates_stopped": "UPDATES STOPPED" in text,
    }


def android_uid_name(uid: int) -> str:
    """10123 -> u0a123, as batterystats prints app UIDs of user 0."""
    user, app = divmod(uid, 100000)
    return f"u{user}a{app - 10000}" if app >= 10000 else str(uid)


@parser("dumpsys batterystats")
def parse_batterystats_uid_mah(text: str, uid: int) -> float | None:
    """Estimated power (mAh) of one UID since the last reset: `Uid u0a123: 1.23 (...)` (<= 11) or `UID u0a123: ...` (12+)."""
    section = text.split("Estimated power use (mAh):", 1)
    if len(section) < 2:
        return None
    match = re.search(rf"^\s*(?:Uid|UID) {re.escape(android_uid_name(uid))}:\s+([0-9.eE+-]+)", section[1], re.M)
    return float(match.group(1)) if match else 0.0


@parser("dumpsys thermalservice")
def parse_thermal(text: str) -> dict:
    """`dumpsys thermalservice`: Thermal Status (0 NONE .. 6 SHUTDOWN) and the HAL's current temperatures."""
    if "Can't find service" in text:
        return {"status": None, "temperatures": []}
    match = re.search(r"Thermal Status:\s*(\d+)", text)
    current = text.split("Current temperatures from HAL:", 1)
    section = current[1].split("Current cooling devices", 1)[0] if len(current) == 2 else text
    temperatures = [
        {"value_c": float(value), "type": int(kind), "name": name, "status": int(status)}
        for value, kind, name, status in re.findall(
            r"Temperature\{mValue=([-0-9.]+), mType=(-?\d+), mName=([^,]+), mStatus=(\d+)\}", section)]
    return {"status": int(match.group(1)) if match else None, "temperatures": temperatures}


SKIN, CPU = 3, 0  # Temperature types of the thermal HAL


def hottest(temperatures: list[dict], kind: int) -> float | None:
    values = [t["value_c"] for t in temperatures if t["type"] == kind]
    return max(values) if values else None


@parser("power-stats")
def parse_power_rails_mj(text: str) -> dict[str, float]:
    """Cumulative per-rail energy from the power-stats HAL's energy-meter table ('Energy (mWs)' = mJ); {} if absent."""
    lines = text.splitlines()
    rails, column = {}, None
    for line in lines:
        if "Energy (mWs)" in line:
            header = re.split(r"\s{2,}", line.strip())
            column = header.index("Energy (mWs)") if "Energy (mWs)" in header else None
            continue
        if column is None:
            continue
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) <= column:
            if rails:
                break
            continue
        try:
            rails[cells[0]] = float(cells[column])
        except ValueError:
            if rails:
                break
    return rails


@parser("df")
def parse_df_available_kb(text: str) -> int | None:
    """toybox `df -k PATH`: the Available column of the last line."""
    rows = [line.split() for line in text.strip().splitlines()[1:]]
    rows = [row for row in rows if len(row) >= 6 and row[3].isdigit()]
    return int(rows[-1][3]) if rows else None


@parser("/sys/devices/system/cpu/possible")
def parse_cpu_possible(text: str) -> int:
    """/sys/devices/system/cpu/possible, such as '0-7' or '0-3,6': the number of CPUs."""
    count = 0
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


@parser("dumpsys package")
def parse_kv_dump(text: str) -> dict[str, str]:
    """`dumpsys package PKG` lines such as `versionName=1.2` or `userId=10123` (first occurrence wins)."""
    found = {}
    for key, value in re.findall(r"\b(versionName|versionCode|userId|appId)=(\S+)", text):
        found.setdefault(key, value)
    return found


@parser("getprop")
def parse_getprop(text: str) -> dict[str, str]:
    """`getprop` with no argument: lines of `[key]: [value]`."""
    return dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, re.M))
