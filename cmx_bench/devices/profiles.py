"""Device profiles from device_profiles/*.toml."""

from __future__ import annotations

from cmx_bench.tomlcompat import tomllib
from functools import lru_cache

from cmx_bench import paths
from cmx_bench.errors import UnknownNameError


@lru_cache(maxsize=None)
def all_profiles() -> dict[str, dict]:
    profiles = {}
    for path in sorted(paths.device_profiles_dir().glob("*.toml")):
        with open(path, "rb") as handle:
            profile = tomllib.load(handle)
        profiles[profile["name"]] = profile
    return profiles


def get_profile(name: str) -> dict:
    profiles = all_profiles()
    if name not in profiles:
        raise UnknownNameError(f"unknown device '{name}'; choose one of: {', '.join(profiles)} "
                               "(or an attached serial; see 'cmx-bench devices')")
    return profiles[name]


def paper_table5(profile: dict, paper_model_name: str) -> dict | None:
    """The paper's Table 5 cell for one network on this device, or None."""
    return profile.get("paper_table5", {}).get(paper_model_name)
