"""The Device interface: run one runner job on the device and return what was measured."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunSettings:
    warmup: int = 5
    iterations: int = 50
    min_duration_s: float = 2.0
    threads: int = 0
    sample_period_s: float = 0.1
    pss_period_s: float = 2.0
    settle_s: float = 0.3  # idle time before loading, so that the sampler reads a PSS baseline (~13 ms)
    hold_s: float = 0.3  # idle time after timing, so that the PSS read at measure_end lands before the runner exits
    allow_version_skew: bool = False  # run artifacts the device's runtime is not known to load (the record says so)
    profile_iterations: int = 0  # > 0: after the timed runs, this many profiled inferences (operator profile)
    sampling: bool = True
    timeout_s: float = 600.0
    # Android only
    force: bool = False  # run even when a pre-check or the cooldown fails (the record says so)
    min_battery_pct: int = 20
    cooldown_max_s: float | None = None  # None: the device profile's bound
    apk: Path | None = None  # the runner APK to install when the phone lacks this version
    device_dir: str = "/data/local/tmp/cmx-bench"
    android_settle_s: float = 1.5  # the app idles this long before loading, so that a PSS baseline is read over adb
    android_pss_period_s: float = 1.0


@dataclass
class DeviceRun:
    """Everything one job produced on a device; the bench turns it into a run record."""

    runner_result: dict
    series: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    energy: dict = field(default_factory=dict)
    thermal: dict = field(default_factory=dict)
    profile_file: Path | None = None  # the ETDump on this host, when the runner wrote one


class Device(ABC):
    """A place where artifacts run; `name` is the profile name, `serial` the concrete unit."""

    profile: dict

    @property
    def name(self) -> str:
        return self.profile["name"]

    @abstractmethod
    def facts(self) -> dict:
        """Model, ABI, OS version, governor, thermal state: what the record says about the device."""

    @abstractmethod
    def runtimes(self, settings: RunSettings) -> dict:
        """The runtime versions the device's runner reports: {'executorch': V, 'pytorch_lite': V, 'reported_by': ...}."""

    @abstractmethod
    def run(self, artifact: Path, inputs: list[Path], job: dict, settings: RunSettings, workdir: Path) -> DeviceRun:
        """Run `job` (artifact and inputs already named in it) and measure it."""
