"""Parsers for Linux /proc files, shared by the host sampler and the Android backend."""

from __future__ import annotations

from cmx_bench.measure.parse_guard import parser


def _stat_fields_from_state(text: str) -> list[str]:
    """/proc/<pid>/stat fields from field 3 (state) on, counted after the last ')' because the command name
    may hold spaces and parentheses."""
    return text[text.rindex(")") + 2:].split()


@parser("/proc/<pid>/stat")
def parse_pid_stat_ticks(text: str) -> dict:
    """utime, stime, cutime, cstime (clock ticks) from /proc/<pid>/stat."""
    # rest[0] is field 3 (state); utime is field 14, so rest[11].
    utime, stime, cutime, cstime = (int(v) for v in _stat_fields_from_state(text)[11:15])
    return {"utime": utime, "stime": stime, "cutime": cutime, "cstime": cstime}


@parser("/proc/<pid>/stat")
def parse_pid_stat_rss_pages(text: str) -> int:
    """Resident set size in pages (field 24) from /proc/<pid>/stat."""
    return int(_stat_fields_from_state(text)[21])


@parser("/proc/stat")
def parse_proc_stat_total_ticks(text: str) -> int:
    """All CPU ticks of the machine so far, from the first ('cpu ') line of /proc/stat."""
    first = text.splitlines()[0].split()
    if first[0] != "cpu":
        raise ValueError("first line of /proc/stat is not the 'cpu' total")
    # guest and guest_nice are already counted inside user and nice.
    return sum(int(v) for v in first[1:9])


@parser("/proc status")
def parse_kb_fields(text: str) -> dict[str, int]:
    """Every `Name:  123 kB` line of /proc/<pid>/status or smaps_rollup, as {Name: 123}."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            values[parts[0][:-1]] = int(parts[1])
    return values


@parser("/proc/<pid>/status")
def parse_status_kb(text: str, field: str) -> int | None:
    """A kB field such as VmRSS or VmHWM from /proc/<pid>/status."""
    return parse_kb_fields(text).get(field)


@parser("smaps_rollup")
def parse_smaps_rollup_kb(text: str) -> dict:
    """Rss, Pss and USS (private clean + private dirty) in kB from /proc/<pid>/smaps_rollup."""
    values = parse_kb_fields(text)
    return {"rss_kb": values.get("Rss"), "pss_kb": values.get("Pss"),
            "uss_kb": (values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)) if "Pss" in values else None}
