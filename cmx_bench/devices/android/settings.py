"""What only a phone needs: pre-check bounds, the cooldown, the runner APK and its folder, adb-paced timings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmx_bench.devices.android.runner_app import DEVICE_DIR


@dataclass(frozen=True)
class AndroidSettings:
    force: bool = False  # run even when a pre-check or the cooldown fails (the record says so)
    min_battery_pct: int = 20
    cooldown_max_s: float | None = None  # None: the device profile's bound
    apk: Path | None = None  # the runner APK to install when the phone lacks this version
    device_dir: str = DEVICE_DIR
    settle_s: float = 1.5  # the app idles this long before loading, so that a PSS baseline is read over adb
    pss_period_s: float = 1.0  # dumpsys meminfo is slow over adb: read it at this period
