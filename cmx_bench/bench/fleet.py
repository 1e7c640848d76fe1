"""Several devices at once: one worker thread per device; a failing device does not stop the others."""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from cmx_bench.bench.session import BenchFailed, BenchOptions, BenchOutcome, Progress, run_benchmark
from cmx_bench.errors import CmxError

# How long an interrupted fleet waits for its workers to restore their phones and report what they measured.
WORKER_STOP_S = 60.0


@dataclass
class FleetOutcome:
    devices: list[str] = field(default_factory=list)
    outcomes: dict[str, BenchOutcome] = field(default_factory=dict)  # every device that measured something
    failures: dict[str, str] = field(default_factory=dict)  # device -> one-line reason


class FleetFailed(CmxError):
    """Some devices failed; what the others measured is on disk."""

    def __init__(self, fleet: FleetOutcome):
        name, reason = next(iter(fleet.failures.items()))
        measured = [str(o.run_dir) for o in fleet.outcomes.values() if any(r["status"] == "ok" for r in o.records)]
        kept = f"measured results are kept in {', '.join(measured)}" if measured else "nothing was measured"
        super().__init__(f"{len(fleet.failures)} of {len(fleet.devices)} devices failed ({name}: {reason}); {kept}")
        self.fleet = fleet


def _interrupt(workers: list[threading.Thread], kind: type[BaseException]) -> None:
    """Raise the main thread's interrupt (Ctrl-C or SIGTERM) in each given worker too: signals reach only the main
    thread, and a worker left running would die at exit without restoring its phone or reporting."""
    for worker in workers:
        if worker.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(kind))


def _wait(workers: list[threading.Thread], finished: list[threading.Event]) -> None:
    """Wait for every worker on events rather than Thread.join: a join that Ctrl-C interrupts marks the live thread
    stopped (CPython 3.11), after which nothing could tell whether it still runs."""
    try:
        for event in finished:
            event.wait()
    except KeyboardInterrupt as exc:
        _interrupt([worker for worker, event in zip(workers, finished) if not event.is_set()], type(exc))
        deadline = time.monotonic() + WORKER_STOP_S
        for event in finished:
            event.wait(max(0.0, deadline - time.monotonic()))
        raise


def run_on_devices(options: BenchOptions, devices: list[str],
                   progress_for: Callable[[str], Progress] = lambda name: Progress()) -> FleetOutcome:
    fleet = FleetOutcome(devices=list(devices))
    lock = threading.Lock()
    finished = [threading.Event() for _ in devices]

    def work(name: str, done: threading.Event) -> None:
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
        except KeyboardInterrupt:
            pass  # raised here by _interrupt: run_benchmark has restored the phone and reported; the main thread tells
        finally:
            done.set()

    workers = [threading.Thread(target=work, args=(name, done), name=f"cmx-device-{name}", daemon=True)
               for name, done in zip(devices, finished)]
    for worker in workers:
        worker.start()
    _wait(workers, finished)
    if fleet.failures:
        raise FleetFailed(fleet)
    return fleet
