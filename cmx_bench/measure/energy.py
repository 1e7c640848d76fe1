"""Energy estimates labelled with their method, and the Light / Medium / Heavy class."""

from __future__ import annotations

ENERGY_CLASSES = ("None", "Light", "Medium", "Heavy")


def power_model_energy_mj(cpu_seconds: float, core_active_w: float) -> float:
    """CPU time times the per-core active power of the device profile (BatteryStats' own approach)."""
    return cpu_seconds * core_active_w * 1e3


def energy_class(avg_power_mw: float, thresholds: dict) -> str:
    """Band an average power into the profile's classes (Android Studio's None/Light/Medium/Heavy)."""
    if avg_power_mw <= thresholds.get("none_max_mw", 0.0):
        return "None"
    if avg_power_mw < thresholds["light_max_mw"]:
        return "Light"
    if avg_power_mw < thresholds["medium_max_mw"]:
        return "Medium"
    return "Heavy"
