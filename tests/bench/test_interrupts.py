"""Ctrl-C and SIGTERM: every device worker cleans up, SIGTERM is an interrupt, records and reports are written whole."""

import os
import signal
import threading
import time

import pytest

from cmx_bench.bench import fleet
from cmx_bench.bench.session import BenchOptions
from cmx_bench.bench.termination import (Terminated, forget_termination, on_sigterm, termination_deferred,
                                         was_terminated)


@pytest.fixture
def sigterm_handler():
    """cmx-bench's SIGTERM handler, as the CLI installs it, and Python's own Ctrl-C handler, for the length of one
    test: a test run started in the background of a shell without job control inherits SIGINT ignored, and Python
    then installs no KeyboardInterrupt handler of its own."""
    forget_termination()
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous_int)
    signal.signal(signal.SIGTERM, previous)
    forget_termination()


def _fleet_of_busy_workers(monkeypatch, devices):
    """Workers that run until interrupted, and say which interrupt reached them; the main thread is interrupted."""
    started, seen = threading.Barrier(len(devices) + 1), {}

    def busy(options, progress):
        started.wait()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                time.sleep(0.01)
        except BaseException as exc:  # where run_benchmark restores the phone and reports what it measured
            seen[options.device] = type(exc)
            raise

    monkeypatch.setattr(fleet, "run_benchmark", busy)
    return started, seen


@pytest.mark.parametrize("signum, kind", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_an_interrupt_of_the_main_thread_reaches_every_device_worker(monkeypatch, sigterm_handler, signum, kind):
    started, seen = _fleet_of_busy_workers(monkeypatch, ["a", "b"])

    def interrupt():
        started.wait()
        time.sleep(0.2)
        os.kill(os.getpid(), signum)  # a real signal: it wakes the main thread's wait, as a user's or a scheduler's does

    threading.Thread(target=interrupt).start()
    with pytest.raises(kind):
        fleet.run_on_devices(BenchOptions(), ["a", "b"])
    assert seen == {"a": kind, "b": kind}


def test_sigterm_raises_terminated_once_and_is_remembered(sigterm_handler):
    with pytest.raises(Terminated):
        signal.raise_signal(signal.SIGTERM)
    assert was_terminated() and isinstance(Terminated(), KeyboardInterrupt)  # every Ctrl-C path takes it
    signal.raise_signal(signal.SIGTERM)  # a second one does not cut the cleanup short


def test_a_sigterm_inside_a_deferred_block_takes_effect_when_the_block_ends(sigterm_handler):
    finished = []
    with pytest.raises(Terminated):
        with termination_deferred():
            signal.raise_signal(signal.SIGTERM)
            finished.append("written")
    assert finished == ["written"] and was_terminated()
