"""Several devices at once: one worker thread per device; a failing device does not stop the others."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable

from cmx_bench.bench.session import BenchFailed, BenchOptions, BenchOutcome, Progress, run_benchmark
from cmx_bench.errors import CmxError


@dataclass
class FleetOutcome:
    devices: list[str] = field(default_factory=list)
    outcomes: dict[str, BenchOutcome] = field(default_factory=dict)  # every device that measured something
    failures: dict[str, str] = field(default_factory=dict)  # device -> one-line reason


class FleetFailed(CmxError):
    """Some devices failed; what the others measured is on disk."""

    def __init__(self, fleet: FleetOutcome):
        name, reason = next(iter(fleet.failures.items()))
        kept = ", ".join(str(o.run_dir) for o in fleet.outcomes.values()) or "nothing was measured"
        super().__init__(f"{len(fleet.failures)} of {len(fleet.devices)} devices failed ({name}: {reason}); "
                         f"kept: {kept}")
        self.fleet = fleet


def run_on_devices(options: BenchOptions, devices: list[str],
                   progress_for: Callable[[str], Progress] = lambda name: Progress()) -> FleetOutcome:
    fleet = FleetOutcome(devices=list(devices))
    lock = threading.Lock()

    def work(name: str) -> None:
        try:
            outcome = run_benchmark(replace(options, device=name), progress_for(name))
            with lock:
                fleet.outcomes[name] = outcome
        except BenchFailed as exc:
            with lock:
                fleet.outcomes[name], fleet.failures[name] = exc.outcome, str(exc)
        except CmxError as exc:
            with lock:
                fleet.failures[name] = str(exc)

    workers = [threading.Thread(target=work, args=(name,), name=f"cmx-device-{name}", daemon=True) for name in devices]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if fleet.failures:
        raise FleetFailed(fleet)
    return fleet
