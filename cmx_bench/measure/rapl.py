"""Intel/AMD RAPL package energy counters from /sys/class/powercap, and the range at which they wrap around."""

from __future__ import annotations

from pathlib import Path

POWERCAP = Path("/sys/class/powercap")


def readable_domains(root: Path = POWERCAP) -> list[Path]:
    """Top-level package domains (intel-rapl:N) whose energy_uj this user can read."""
    domains = []
    for domain in sorted(root.glob("intel-rapl:*")):
        if domain.name.count(":") != 1:
            continue  # sub-domains (core, uncore, dram) are already inside the package figure
        try:
            int((domain / "energy_uj").read_text())
            domains.append(domain)
        except (OSError, ValueError):
            continue
    return domains


def read_total_uj(domains: list[Path]) -> int:
    return sum(int((d / "energy_uj").read_text()) for d in domains)


def max_range_uj(domains: list[Path]) -> int:
    return sum(int((d / "max_energy_range_uj").read_text()) for d in domains)
