"""Energy estimates labelled with their method, and the Light / Medium / Heavy class."""

from __future__ import annotations


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


def energy_figure(method: str, note: str, energy_mj: float, window_s: float, inferences: int, thresholds: dict,
                  window_name: str = "the measured phase") -> dict:
    """The energy block of a record: the figure, the method that produced it, per inference, and its class.

    A profile without band thresholds (the host) gets no class, and the record carries the profile's reason."""
    avg_power_mw = energy_mj / window_s if window_s > 0 else None
    banded = "light_max_mw" in thresholds
    if banded:
        rule = (f"average power over {window_name} vs the profile's thresholds (Light < "
                f"{thresholds['light_max_mw']} mW <= Medium < {thresholds['medium_max_mw']} mW <= Heavy)")
    else:
        rule = "no class: " + thresholds.get("no_class_reason", "the device profile defines no energy bands")
    return {
        "method": method, "note": note, "energy_mj": energy_mj, "window_s": window_s,
        "energy_per_inference_mj": energy_mj / inferences if inferences else None,
        "avg_power_mw": avg_power_mw,
        "energy_class": energy_class(avg_power_mw, thresholds) if banded and avg_power_mw is not None else None,
        "energy_class_rule": rule,
    }


def mah_to_mj(mah: float, volts: float) -> float:
    """Charge to energy at the battery's nominal voltage: mAh x V = mWh, x 3600 = mJ."""
    return mah * volts * 3600.0


def fuel_gauge_energy_mj(t: list[float], current_ua: list[float], voltage_uv: list[float],
                         idle_power_mw: float = 0.0) -> float:
    """Integrate |current| x voltage over time (trapezoids) and subtract the idle power; vendors differ in sign."""
    import numpy as np

    power_mw = np.abs(np.asarray(current_ua, float)) * np.asarray(voltage_uv, float) / 1e9
    above_idle = np.clip(power_mw - idle_power_mw, 0.0, None)
    return float(np.trapezoid(above_idle, np.asarray(t, float)))
