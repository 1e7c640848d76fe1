"""Where and how fast a process ran: its threads' CPUs, the CPU clusters and their clocks, from /proc and /sys text."""

from __future__ import annotations

import re

from cmx_bench.errors import ParseError
from cmx_bench.measure.parse_guard import parser

SYS_CPU = "/sys/devices/system/cpu"
WORKED_SHARE = 0.05  # a thread "worked" when it holds at least this share of the process's in-window CPU time
NO_CPUFREQ = f"no {SYS_CPU}/cpufreq on this host"
SOURCE_POLICIES = "cpufreq related_cpus"
SOURCE_CAPACITY = "cpu_capacity"
SOURCE_MAX_FREQ = "cpuinfo_max_freq"
SOURCE_ONE = "all CPUs as one cluster (no cpufreq)"
NO_PROFILE_CPUS = "the device profile lists no CPUs"
# A /proc/<pid>/task/<tid>/stat line: a number, a space and the '(' that opens the command name.
_STAT_LINE = re.compile(r"^\d+ \(")
_POLICY_NAME = re.compile(r"^policy\d+$")


# ---- parsers ---------------------------------------------------------------------------------------
def is_task_stat_line(line: str) -> bool:
    """True for a line that starts like /proc/<pid>/task/<tid>/stat (other output of the same `cat` is not)."""
    return bool(_STAT_LINE.match(line))


@parser("/proc/<pid>/task/<tid>/stat")
def parse_task_stat(text: str) -> dict:
    """tid, command name, utime + stime (clock ticks) and field 39, the CPU the thread last ran on."""
    line = text.strip()
    opened, closed = line.index(" ("), line.rindex(")")  # the name may hold spaces and ')': the last ')' ends it
    rest = line[closed + 2:].split()  # rest[0] is field 3 (state): field N is rest[N - 3]
    if len(rest) < 37:
        raise ValueError(f"{len(rest) + 2} fields, fewer than the 39 that hold the CPU number")
    return {"tid": int(line[:opened]), "comm": line[opened + 2:closed],
            "ticks": int(rest[11]) + int(rest[12]), "cpu": int(rest[36])}


@parser("/proc/<pid>/task/*/stat")
def parse_task_stats(lines: list[str]) -> dict[int, list[int]]:
    """Many task stat lines (one `cat` of several files) as {tid: [ticks, cpu]}."""
    threads = {}
    for line in lines:
        task = parse_task_stat(line)
        threads[task["tid"]] = [task["ticks"], task["cpu"]]
    return threads


@parser("cpufreq stats/time_in_state")
def parse_time_in_state(text: str) -> dict[int, int]:
    """Lines `<kHz> <time>` (time in 10 ms units, cumulative since boot) as {kHz: time}."""
    table = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValueError(f"line {line[:40]!r} is not '<kHz> <time>'")
        table[int(words[0])] = int(words[1])
    return table


@parser("a CPU list")
def parse_cpu_list(text: str) -> list[int]:
    """related_cpus ('0 1 2 3'), a cpulist ('0-3', '0-3,6') or a mix ('0-3 6') as sorted CPU numbers."""
    cpus = set()
    for part in text.replace(",", " ").split():
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if last < first or last - first > 4096:
            raise ValueError(f"CPU range {part!r}")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise ValueError("no CPU in the list")
    return sorted(cpus)


@parser("a sysfs number")
def parse_sysfs_int(text: str) -> int:
    """A one-number sysfs file such as cpuinfo_max_freq (kHz) or cpu_capacity."""
    return int(text.strip())


@parser("cpufreq policy files")
def parse_policy_facts(text: str, policies: list[str]) -> dict[str, tuple[list[int], int]]:
    """One `cat` of related_cpus and cpuinfo_max_freq of each policy in turn, as {policy: (cpus, max kHz)}."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("cat:")]
    if len(lines) != 2 * len(policies):
        raise ValueError(f"{len(lines)} lines for {len(policies)} policies (a file was not readable)")
    return {name: (parse_cpu_list(lines[2 * i]), parse_sysfs_int(lines[2 * i + 1])) for i, name in enumerate(policies)}


@parser("per-CPU sysfs files")
def parse_per_cpu_values(text: str, cpus: list[int]) -> dict[int, int]:
    """One `cat` of the same one-number file of each CPU in turn (cpu_capacity, cpuinfo_max_freq) as {cpu: value}."""
    values = [parse_sysfs_int(line) for line in text.splitlines() if line.strip() and not line.startswith("cat:")]
    if len(values) != len(cpus):
        raise ValueError(f"{len(values)} values for {len(cpus)} CPUs (a file was not readable)")
    return dict(zip(cpus, values))


@parser("cpufreq clock files")
def parse_clock_reading(text: str, clock_dirs: list[str]) -> dict[str, dict]:
    """One `cat` of stats/time_in_state and scaling_cur_freq of each clock folder in turn (see clock_files).

    time_in_state lines have two words and scaling_cur_freq one, so each one-word line closes a folder's part; a
    time_in_state that could not be read (a kernel without CONFIG_CPU_FREQ_STAT) leaves only an error line, dropped."""
    readings, table = {}, []
    for line in text.splitlines():
        words = line.split()
        if not words or line.startswith("cat:"):
            continue
        if len(words) == 2:
            table.append(line)
            continue
        if len(words) != 1 or len(readings) == len(clock_dirs):
            raise ValueError(f"unexpected line {line[:40]!r}")
        readings[clock_dirs[len(readings)]] = {"time_in_state": parse_time_in_state("\n".join(table)) if table else None,
                                               "cur_khz": int(words[0]) if words[0].isdigit() else None}
        table = []
    if len(readings) != len(clock_dirs) or table:
        raise ValueError(f"{len(readings)} scaling_cur_freq values for {len(clock_dirs)} cpufreq folders")
    return readings


def clock_files(clock_dirs: list[str]) -> list[str]:
    """The files to `cat`, in the order parse_clock_reading expects, for clock folders relative to SYS_CPU."""
    return [f"{SYS_CPU}/{d}/{name}" for d in clock_dirs for name in ("stats/time_in_state", "scaling_cur_freq")]


def no_clock_reason(listing: str | None, where: str) -> str:
    """Why no clock can be read, from an `ls` of the cpufreq folder (None: the folder is not there)."""
    if listing is None:
        return f"no {SYS_CPU}/cpufreq on this {where}"
    if not policy_names(listing):
        return f"{SYS_CPU}/cpufreq holds no policy on this {where} (no cpufreq driver)"
    return f"no readable cpufreq policy in {SYS_CPU}/cpufreq on this {where}"


def policy_names(listing: str) -> list[str]:
    """The policyN entries of an `ls /sys/devices/system/cpu/cpufreq` (governor folders such as 'schedutil' are not)."""
    names = [name for name in listing.split() if _POLICY_NAME.match(name)]
    return sorted(names, key=lambda name: int(name[len("policy"):]))


# ---- clusters --------------------------------------------------------------------------------------
def _cluster(cpus, max_khz=None, capacity=None, clock_dirs=()) -> dict:
    return {"cpus": sorted(cpus), "max_khz": max_khz, "capacity": capacity, "clock_dirs": list(clock_dirs)}


def _rank_and_name(clusters: list[dict]) -> list[dict]:
    """Slowest first; little/big or little/mid/big for 2 or 3 clusters, 'cpus' otherwise."""
    clusters = sorted(clusters, key=lambda c: (c["max_khz"] or 0, c["capacity"] or 0, c["cpus"][0]))
    names = {2: ["little", "big"], 3: ["little", "mid", "big"]}.get(len(clusters), ["cpus"] * len(clusters))
    return [{"name": name, **cluster} for name, cluster in zip(names, clusters)]


def _group_by_value(values: dict[int, int], key: str, clock_dir=None) -> list[dict]:
    groups: dict[int, list[int]] = {}
    for cpu, value in values.items():
        groups.setdefault(value, []).append(cpu)
    return [_cluster(cpus, **{key: value}, clock_dirs=[clock_dir(min(cpus))] if clock_dir else ())
            for value, cpus in groups.items()]


def clusters_from_policies(facts: dict[str, tuple[list[int], int]]) -> list[dict]:
    """Policies with the same top clock are one cluster (one per CPU on x86; two equal ones on some phone SoCs)."""
    merged: dict[int, dict] = {}
    for policy, (cpus, max_khz) in facts.items():
        cluster = merged.setdefault(max_khz, _cluster([], max_khz))
        cluster["cpus"] = sorted(set(cluster["cpus"]) | set(cpus))
        cluster["clock_dirs"].append(f"cpufreq/{policy}")
    return list(merged.values())


def discover_clusters(ncpu: int, policy_facts: dict | None = None, capacities: dict[int, int] | None = None,
                      max_freqs: dict[int, int] | None = None, cpufreq_reason: str = NO_CPUFREQ) -> dict:
    """The device's clusters from the best source it has: cpufreq policies, cpu_capacity, per-CPU cpuinfo_max_freq,
    else all CPUs as one. Each argument holds what was read (None: not readable there)."""
    if policy_facts:
        clusters, source = clusters_from_policies(policy_facts), SOURCE_POLICIES
    elif capacities:
        clusters, source = _group_by_value(capacities, "capacity"), SOURCE_CAPACITY
    elif max_freqs:
        clusters = _group_by_value(max_freqs, "max_khz", clock_dir=lambda cpu: f"cpu{cpu}/cpufreq")
        source = SOURCE_MAX_FREQ
    else:
        clusters, source = [_cluster(range(max(1, ncpu)))], SOURCE_ONE
    return {"clusters": _rank_and_name(clusters), "source": source,
            "cpufreq_reason": None if any(c["clock_dirs"] for c in clusters) else cpufreq_reason}


def cpu_list_text(cpus: list[int]) -> str:
    """'0-3,6' for [0, 1, 2, 3, 6]."""
    runs, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            runs.append(f"{start}" if start == cpu else f"{start}-{cpu}")
            start = None
    return ",".join(runs)


def profile_check(discovery: dict, profile: dict) -> str:
    """Whether the clusters found on the device are the ones the device profile's [[clusters]] list."""
    listed = profile.get("clusters") or []
    if not listed or any("cpus" not in c for c in listed):
        return NO_PROFILE_CPUS
    wanted = sorted((sorted(c["cpus"]), c.get("max_khz")) for c in listed)
    found = sorted((c["cpus"], c["max_khz"]) for c in discovery["clusters"])
    if [cpus for cpus, _ in wanted] != [cpus for cpus, _ in found]:
        def describe(pairs):
            return " | ".join(cpu_list_text(cpus) for cpus, _ in pairs)
        return (f"differs from the device profile: CPUs {describe(wanted)} in the profile, {describe(found)} here "
                f"({discovery['source']})")
    clocks = [f"CPUs {cpu_list_text(cpus)} top out at {have} kHz here, {want} in the profile"
              for (cpus, want), (_, have) in zip(wanted, found) if have is not None and want is not None and have != want]
    return f"differs from the device profile: {'; '.join(clocks)}" if clocks else "matches the device profile"


# ---- the figure ------------------------------------------------------------------------------------
def _in_window(samples: list[dict], start: float, end: float) -> list[dict]:
    return sorted((s for s in samples if start <= s["t"] <= end), key=lambda s: s["t"])


def _ticks_by_thread_and_cluster(samples: list[dict], cluster_of: dict[int, int]) -> tuple[dict, dict]:
    """CPU ticks per thread and per cluster between consecutive in-window samples.

    The ticks a thread gained between two samples are put on the cluster of the CPU it was last seen on at the later
    sample: a thread that moved in between is counted where it ended, so the error is bounded by what one thread can
    run in one sampler period. A thread not in both samples (born, or first listed, in between) adds nothing for that
    period: its earlier ticks may predate the window."""
    per_thread, per_cluster = {}, {}
    for before, after in zip(samples, samples[1:]):
        for tid, (ticks, cpu) in after["threads"].items():
            if tid not in before["threads"]:
                continue
            gained = max(0, ticks - before["threads"][tid][0])
            per_thread[tid] = per_thread.get(tid, 0) + gained
            cluster = cluster_of.get(cpu)
            if cluster is not None:  # a CPU outside every cluster (hot-plugged since discovery) is left out
                per_cluster[cluster] = per_cluster.get(cluster, 0) + gained
    return per_thread, per_cluster


def _nearest(readings: list[dict], when: float) -> dict | None:
    return min(readings, key=lambda r: abs(r["t"] - when), default=None)


def _table_delta(before: dict, after: dict) -> dict[int, int]:
    return {khz: after[khz] - before.get(khz, 0) for khz in after if after[khz] - before.get(khz, 0) > 0}


def _cluster_clock(cluster: dict, readings: list[dict], start: float, end: float) -> tuple[float | None, str | None]:
    """Mean clock (kHz) of a cluster over [start, end] and how it was found.

    time_in_state counts wall time at each clock whether the CPUs were busy or idle: it is the cluster's clock over the
    window, read at the readings nearest to its bounds (the readings' period bounds how far those are). Policies merged
    into one cluster count alike. Without time_in_state, the mean of the scaling_cur_freq values read in the window."""
    first, last = _nearest(readings, start), _nearest(readings, end)
    spent: dict[int, int] = {}
    if first is not None and last is not None and last["t"] > first["t"]:
        for d in cluster["clock_dirs"]:
            old = (first["clocks"].get(d) or {}).get("time_in_state")
            new = (last["clocks"].get(d) or {}).get("time_in_state")
            if old is None or new is None:
                spent = {}
                break
            for khz, time in _table_delta(old, new).items():
                spent[khz] = spent.get(khz, 0) + time
    if spent:
        return sum(khz * time for khz, time in spent.items()) / sum(spent.values()), "time_in_state"
    current = [(r["clocks"].get(d) or {}).get("cur_khz") for r in _in_window(readings, start, end)
               for d in cluster["clock_dirs"]]
    current = [khz for khz in current if khz]
    return (sum(current) / len(current), "scaling_cur_freq samples") if current else (None, None)


def _clock_reason(discovery: dict, readings: list[dict], sources: set) -> str | None:
    if discovery["cpufreq_reason"]:
        return discovery["cpufreq_reason"]
    if not readings:
        return "no cpufreq reading was taken during the run"
    if None in sources:
        return "neither stats/time_in_state nor scaling_cur_freq changed or was read in the measured window"
    return None


def _unavailable(reason: str, discovery: dict, profile: dict, threads_seen: int = 0) -> dict:
    clusters = [{"name": c["name"], "cpus": c["cpus"], "max_khz": c["max_khz"], "cpu_share": None, "mean_khz": None,
                 "clock_fraction": None} for c in discovery["clusters"]]
    return {"status": "unavailable", "reason": reason, "threads_seen": threads_seen, "threads_worked": 0,
            "clusters": clusters, "big_core_share": None, "clock_fraction": None, "clock_source": None,
            "clock_reason": discovery["cpufreq_reason"] or reason, "clusters_source": discovery["source"],
            "profile_check": profile_check(discovery, profile)}


def placement_figures(task_samples: list[dict], discovery: dict, clock_readings: list[dict], start: float, end: float,
                      profile: dict) -> dict:
    """Which clusters ran the process's threads in [start, end], and at what share of their top clock.

    task_samples: [{"t", "threads": {tid: [ticks, cpu]}}]; clock_readings: [{"t", "clocks": {clock_dir: {"time_in_state",
    "cur_khz"}}}], both on the clock of the runner's phases; discovery from discover_clusters."""
    window = _in_window(task_samples, start, end)
    threads_seen = len({tid for sample in window for tid in sample["threads"]})
    if len(window) < 2:
        return _unavailable(f"{len(window)} thread sample(s) in the measured window; two are needed", discovery,
                            profile, threads_seen)
    clusters = discovery["clusters"]
    cluster_of = {cpu: index for index, cluster in enumerate(clusters) for cpu in cluster["cpus"]}
    per_thread, per_cluster = _ticks_by_thread_and_cluster(window, cluster_of)
    total, placed = sum(per_thread.values()), sum(per_cluster.values())
    if total <= 0 or placed <= 0:
        return _unavailable("the process's threads used no CPU time in the measured window", discovery, profile,
                            threads_seen)
    figures, sources = [], set()
    for index, cluster in enumerate(clusters):
        mean_khz, source = _cluster_clock(cluster, clock_readings, start, end) if cluster["clock_dirs"] else (None, None)
        sources.add(source)
        fraction = mean_khz / cluster["max_khz"] if mean_khz is not None and cluster["max_khz"] else None
        figures.append({"name": cluster["name"], "cpus": cluster["cpus"], "max_khz": cluster["max_khz"],
                        "cpu_share": round(per_cluster.get(index, 0) / placed, 4),
                        "mean_khz": round(mean_khz, 1) if mean_khz is not None else None,
                        "clock_fraction": round(fraction, 4) if fraction is not None else None})
    # The clusters that ran the threads must all have a clock figure, or the weighted one would leave some out.
    busy = [f for f in figures if f["cpu_share"] > 0]
    weighted = (sum(f["cpu_share"] * f["clock_fraction"] for f in busy) / sum(f["cpu_share"] for f in busy)
                if busy and all(f["clock_fraction"] is not None for f in busy) else None)
    known = discovery["source"] != SOURCE_ONE
    used = {s for s in sources if s}
    return {"status": "ok" if known else "unavailable",
            "reason": None if known else (f"{discovery['cpufreq_reason']}: the clusters are not known, so all CPUs are "
                                          "taken as one; threads are still counted"),
            "threads_seen": threads_seen,
            "threads_worked": sum(1 for ticks in per_thread.values() if ticks >= WORKED_SHARE * total),
            "clusters": figures,
            # Everything not on the slowest cluster: on a prime + big + little phone, work on prime and big cores
            # alike is on big cores.
            "big_core_share": round(1 - figures[0]["cpu_share"], 4) if len(figures) > 1 else None,
            "clock_fraction": round(weighted, 4) if weighted is not None else None,
            # one cluster read from scaling_cur_freq makes the whole clock figure a sampled one
            "clock_source": "scaling_cur_freq samples" if "scaling_cur_freq samples" in used else
            ("time_in_state" if used else None),
            "clock_reason": None if weighted is not None else _clock_reason(discovery, clock_readings, sources),
            "clusters_source": discovery["source"], "profile_check": profile_check(discovery, profile)}


def unavailable_placement(reason: str, discovery: dict | None = None, profile: dict | None = None) -> dict:
    """The figure when nothing could be measured (sampling off, a failed run), in the same shape."""
    return _unavailable(reason, discovery or discover_clusters(1, cpufreq_reason=reason), profile or {})
