"""The Device interface: run one runner job on the device and return what was measured."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunSettings:
    """How the host measures a run on any device; the runner's own settings are the job's (runner.protocol)."""
    sample_period_s: float = 0.1
    pss_period_s: float = 2.0
    hold_s: float = 0.3  # idle time after timing, so that the PSS read at measure_end lands before the runner exits
    allow_version_skew: bool = False  # run artifacts the device's runtime is not known to load (the record says so)
    sampling: bool = True
    timeout_s: float = 600.0
    sustained_s: float | None = None  # a sustained run: timed inferences without pause for this long


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
    placement: dict = field(default_factory=dict)  # which clusters ran the runner's threads, at what clock
    readings: dict = field(default_factory=dict)  # sustained runs: thermal state and clocks every few seconds
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
    def runtimes(self) -> dict:
        """The runtime versions the device's runner reports: {'executorch': V, 'pytorch_lite': V, 'reported_by': ...}."""

    @abstractmethod
    def run(self, artifact: Path, inputs: list[Path], job: dict, settings: RunSettings, workdir: Path) -> DeviceRun:
        """Run `job` (artifact and inputs already named in it) and measure it."""
