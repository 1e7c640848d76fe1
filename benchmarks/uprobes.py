"""Uprobes for the benchmarks that time a runtime's functions inside its calls (timer_rounding.py, around_invoke.py).

perf places a probe at a function's entry and one at its return; each probed call costs its caller a trap at both.
Needs Linux, perf, and root (or a perf_event_paranoid that allows uprobes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RETURN = "_end"  # the suffix of a return probe's name (perf adds "__return" to it)


def executorch_backend_library() -> Path:
    """The library that holds ExecuTorch's XNNPACK delegate and XNNPACK itself, with their exported symbols."""
    import executorch

    return Path(executorch.__path__[0]) / "lib" / "libexecutorch_backend_xnnpack.so"


def add_probes(group: str, library: Path, functions: dict[str, str]) -> None:
    """Probes `group:NAME` at the entry and `group:NAME_end` at the return of each function (NAME: a function's
    symbol, or its address as 0x...)."""
    specs = []
    for name, function in functions.items():
        specs += ["-a", f"{group}:{name}={function}", "-a", f"{group}:{name}{RETURN}={function}%return"]
    done = subprocess.run(["perf", "probe", "-q", "-x", str(library), *specs], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"perf probe on {library.name} failed ({(done.stderr.strip().splitlines() or ['?'])[-1]}): run as "
                 "root, with perf installed")


def remove_probes(group: str) -> None:
    """Every probe of the group (none there is no error); a failure is said, with the command that removes them."""
    done = subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True, text=True)
    if done.returncode and "not found" not in done.stderr.lower() and done.stderr.strip():
        print(f"the uprobes {group}:* may be left in place: remove them with perf probe -d '{group}:*'",
              file=sys.stderr)


def record(group: str, events: list[str], pid: int, perf_data: Path) -> subprocess.Popen:
    """`perf record` of the group's probes that the globs `events` name, in process `pid`; it has attached when
    this returns. Stop it with stop()."""
    perf = subprocess.Popen(["perf", "record", "-q", *[f"-e{group}:{event}" for event in events], "-p", str(pid), "-o",
                             str(perf_data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sleep", "1"])  # perf attaches before the calls it must see
    return perf


def stop(perf: subprocess.Popen) -> None:
    perf.send_signal(2)
    perf.wait()


def durations(perf_data: Path) -> dict[str, list[float]]:
    """Per probe name, each call's entry-to-return time (ms), in call order. Entries and returns are paired by name
    alone: the probed functions are called from the program's one calling thread, never from XNNPACK's workers."""
    done = subprocess.run(["perf", "script", "-i", str(perf_data), "--ns", "-F", "time,event"], capture_output=True,
                          text=True)
    if done.returncode:
        sys.exit(f"perf script could not read {perf_data} ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
    started, found = {}, {}
    for line in done.stdout.splitlines():
        stamp, event = line.split()[:2]
        name, seconds = event.rstrip(":").split(":")[1].removesuffix("__return"), float(stamp.rstrip(":"))
        if name.endswith(RETURN):
            name = name.removesuffix(RETURN)
            if name in started:
                found.setdefault(name, []).append((seconds - started.pop(name)) * 1e3)
        else:
            started[name] = seconds
    return found
