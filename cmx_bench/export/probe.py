"""Load an artifact in a child process: a corrupt .pte can abort the native loader, which must not take the caller down."""

from __future__ import annotations

import signal
import subprocess
import sys

from cmx_bench.errors import ArtifactError


def probe_artifact(path, runtime: str, timeout_s: float = 300.0) -> None:
    """ArtifactError (one line) unless `path` loads in a fresh process."""
    command = [sys.executable, "-m", "cmx_bench.export.probe", str(path), runtime]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ArtifactError(f"artifact {path} did not load within {timeout_s:.0f} s; export it again") from exc
    if done.returncode == 0:
        return
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise ArtifactError(f"artifact {path} crashed the {runtime} loader ({name}); it is corrupt: "
                            "export it again with 'cmx-bench export'")
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["no message"]
    raise ArtifactError(lines[-1])


def _main(argv: list[str]) -> int:
    from cmx_bench.export.loaders import load_artifact

    try:
        load_artifact(argv[0], argv[1])
    except ArtifactError as exc:
        print(exc)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
