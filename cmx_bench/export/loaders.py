"""Load an artifact file into a callable (float32 NCHW tensor in, class probabilities out)."""

from __future__ import annotations

import contextlib
import os
from typing import Callable

from cmx_bench.errors import ArtifactError


@contextlib.contextmanager
def native_stderr_silenced():
    """Hide ExecuTorch's CPU-probing lines while loading: they go to fd 2 or, through pybind, to sys.stderr."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            with contextlib.redirect_stderr(devnull):
                yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def set_threads(runtime: str, threads: int) -> int:
    """Apply a thread count (0 keeps the runtime default) and return the one in force."""
    import torch

    if runtime == "pytorch_lite":
        if threads > 0:
            torch.set_num_threads(threads)
        return torch.get_num_threads()
    with native_stderr_silenced():
        from executorch.extension.pybindings import portable_lib

        if threads > 0:
            portable_lib._unsafe_reset_threadpool(threads)
        return int(portable_lib._threadpool_get_thread_count())


def load_artifact(path: str | os.PathLike, runtime: str) -> Callable:
    """Return f(tensor) -> tensor of probabilities; ArtifactError when the file cannot be loaded."""
    path = str(path)
    try:
        if runtime == "pytorch_lite":
            from torch.jit.mobile import _load_for_lite_interpreter

            module = _load_for_lite_interpreter(path)
            return lambda x: module(x)
        if runtime == "executorch":
            with native_stderr_silenced():
                from executorch.runtime import Runtime

                method = Runtime.get().load_program(path).load_method("forward")
            return lambda x: method.execute([x])[0]
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise ArtifactError(f"artifact {path} could not be loaded by {runtime} ({first}); "
                            "it is corrupt or not of that format: export it again with 'cmx-bench export'") from exc
    raise ArtifactError(f"artifact {path}: unknown runtime '{runtime}'")
