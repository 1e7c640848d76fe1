"""SIGTERM taken as an interrupt, so that every Ctrl-C path (cleanup, phone restore, the partial report) runs on it."""

from __future__ import annotations

import threading
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM (a CI runner's or a device lab scheduler's timeout); exit code 143."""


class _State:
    received = False  # a SIGTERM came: the command ends with exit code 143, whatever else happens
    deferring = 0  # depth of termination_deferred blocks in the main thread
    pending = False  # a SIGTERM came inside such a block: it takes effect when the block ends


def on_sigterm(signum, frame) -> None:
    """The SIGTERM handler: raise Terminated where the main thread is (Python runs handlers only there)."""
    if _State.received:
        return  # a repeated SIGTERM must not cut short the cleanup that the first one started
    _State.received = True
    if _State.deferring:
        _State.pending = True
        return
    raise Terminated()


def was_terminated() -> bool:
    """Whether a SIGTERM arrived, even where Typer turned the interrupt into Exit(130) or a loop swallowed it."""
    return _State.received


@contextmanager
def termination_deferred():
    """Finish this block before a SIGTERM that arrives during it takes effect: a record or a report is written whole,
    not abandoned half-way. Worker threads never receive signals, so there it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if not _State.deferring and _State.pending:
        _State.pending = False
        raise Terminated()


def forget_termination() -> None:
    """Back to the state before any SIGTERM (for in-process callers that run several commands, as tests do)."""
    _State.received, _State.deferring, _State.pending = False, 0, False
