"""Parsers for Linux /proc files, shared by the host sampler and the Android backend."""

from __future__ import annotations


def parse_pid_stat_ticks(text: str) -> dict:
    """utime, stime, cutime, cstime (clock ticks) from /proc/<pid>/stat.

    Fields are counted after the last ')' because the command name may hold spaces and parentheses.
    """
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14, so rest[11].
    utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
    return {"utime": utime, "stime": stime, "cutime": cutime, "cstime": cstime}


def parse_proc_stat_total_ticks(text: str) -> int:
    """All CPU ticks of the machine so far, from the first ('cpu ') line of /proc/stat."""
    first = text.splitlines()[0].split()
    if first[0] != "cpu":
        raise ValueError("first line of /proc/stat is not the 'cpu' total")
    # guest and guest_nice are already counted inside user and nice.
    return sum(int(v) for v in first[1:9])


def parse_status_kb(text: str, field: str) -> int | None:
    """A kB field such as VmRSS or VmHWM from /proc/<pid>/status."""
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def parse_smaps_rollup_kb(text: str) -> dict:
    """Rss, Pss and USS (private clean + private dirty) in kB from /proc/<pid>/smaps_rollup."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            values[parts[0][:-1]] = int(parts[1])
    return {"rss_kb": values.get("Rss"), "pss_kb": values.get("Pss"),
            "uss_kb": (values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)) if "Pss" in values else None}
