"""One rule for every parser of device and OS output: bad input raises ParseError with one line, nothing else."""

from __future__ import annotations

import functools

from cmx_bench.errors import ParseError


def parser(what: str):
    """Decorate a parser of `what` (e.g. "dumpsys meminfo") so that any failure on odd input is a ParseError."""
    def wrap(function):
        @functools.wraps(function)
        def guarded(text, *args, **kwargs):
            try:
                return function(text, *args, **kwargs)
            except ParseError:
                raise
            except (ValueError, IndexError, KeyError, TypeError, AttributeError, OverflowError) as exc:
                detail = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
                raise ParseError(f"cannot read {what} output ({type(exc).__name__}: {detail}); the output was "
                                 "truncated or has a layout this version does not know") from exc
        return guarded
    return wrap
