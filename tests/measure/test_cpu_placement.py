"""Where a process ran: task stat, time_in_state and related_cpus parsers, cluster discovery, the placement figure."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmx_bench.devices.profiles import all_profiles, get_profile
from cmx_bench.errors import ParseError
from cmx_bench.measure import cpu_placement as cp
from cmx_bench.measure.host_sampler import discover_host_clusters, read_host_clocks

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cpu_placement"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ---- parsers -----------------------------------------------------------------------------------
def test_task_stat_on_linux_4_19_counts_fields_after_a_name_with_spaces_and_parentheses():
    lines = fixture("android11/task_stat.txt").splitlines()
    assert cp.parse_task_stat(lines[4]) == {"tid": 8153, "comm": "ET pool) (2", "ticks": 1498 + 57, "cpu": 6}
    assert cp.parse_task_stats(lines) == {8123: [253, 7], 8131: [4, 2], 8140: [0, 5], 8152: [1581, 7], 8153: [1555, 6]}


def test_task_stat_on_linux_5_10():
    lines = fixture("android13/task_stat.txt").splitlines()
    assert cp.parse_task_stat(lines[3]) == {"tid": 9945, "comm": "ET (pool) 1)", "ticks": 2650 + 101, "cpu": 7}
    assert sorted(cp.parse_task_stats(lines)) == [9911, 9930, 9944, 9945]


def test_task_stat_of_an_old_kernel_with_44_fields_and_a_truncated_one():
    fields = ["77", "(main)", "R"] + [str(n) for n in range(4, 45)]  # 44 fields: field 39 holds "39"
    assert cp.parse_task_stat(" ".join(fields))["cpu"] == 39
    with pytest.raises(ParseError, match="fewer than the 39"):
        cp.parse_task_stat(" ".join(fields[:38]))


def test_task_stat_lines_are_told_from_the_rest_of_a_cat():
    assert cp.is_task_stat_line("9944 (pool-2-thread-1) R 612")
    assert not cp.is_task_stat_line("cpu  113 2 88 9046 11 0 6 0 0 0")
    assert not cp.is_task_stat_line("cat: /proc/1/task/2/stat: No such file or directory")


def test_time_in_state_tables():
    android11 = cp.parse_time_in_state(fixture("android11/time_in_state_policy7.txt"))
    assert len(android11) == 8 and android11[2400000] == 5520
    android13 = cp.parse_time_in_state(fixture("android13/time_in_state_policy6.txt"))
    assert min(android13) == 500000 and max(android13) == 2802000 and android13[2802000] == 4411
    with pytest.raises(ParseError):
        cp.parse_time_in_state("300000 12 7\n")


@pytest.mark.parametrize("text, cpus", [("0-3", [0, 1, 2, 3]), ("4 5 6 7\n", [4, 5, 6, 7]), ("0-3 6", [0, 1, 2, 3, 6]),
                                        ("0-3,6", [0, 1, 2, 3, 6]), ("7\n", [7])])
def test_cpu_lists(text, cpus):
    assert cp.parse_cpu_list(text) == cpus


def test_related_cpus_fixtures_and_bad_lists():
    assert cp.parse_cpu_list(fixture("android11/related_cpus_policy0.txt")) == [0, 1, 2, 3, 4, 5]
    assert cp.parse_cpu_list(fixture("android13/related_cpus_policy4.txt")) == [4, 5]
    for bad in ("", "3-1", "a-b"):
        with pytest.raises(ParseError):
            cp.parse_cpu_list(bad)


def test_policy_facts_from_one_cat_and_a_missing_file():
    text = "0 1 2 3\n1900800\n4 5 6 7\n2457600\n"
    assert cp.parse_policy_facts(text, ["policy0", "policy4"]) == {"policy0": ([0, 1, 2, 3], 1900800),
                                                                   "policy4": ([4, 5, 6, 7], 2457600)}
    with pytest.raises(ParseError, match="not readable"):
        cp.parse_policy_facts("cat: /sys/x: No such file or directory\n1900800\n4 5 6 7\n2457600\n",
                              ["policy0", "policy4"])


def test_clock_reading_with_one_policy_lacking_time_in_state():
    text = ("300000 10\n1900800 90\n1900800\n"
            "cat: /sys/devices/system/cpu/cpufreq/policy4/stats/time_in_state: No such file or directory\n2457600\n")
    readings = cp.parse_clock_reading(text, ["cpufreq/policy0", "cpufreq/policy4"])
    assert readings == {"cpufreq/policy0": {"time_in_state": {300000: 10, 1900800: 90}, "cur_khz": 1900800},
                        "cpufreq/policy4": {"time_in_state": None, "cur_khz": 2457600}}
    assert cp.clock_files(["cpufreq/policy0"]) == ["/sys/devices/system/cpu/cpufreq/policy0/stats/time_in_state",
                                                   "/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq"]
    with pytest.raises(ParseError):
        cp.parse_clock_reading("300000 10\n", ["cpufreq/policy0"])


def test_policy_names_leave_governor_folders_out():
    assert cp.policy_names("policy0\npolicy4\nschedutil\npolicy10\n") == ["policy0", "policy4", "policy10"]


def test_why_no_clock_can_be_read():
    assert cp.no_clock_reason(None, "phone") == "no /sys/devices/system/cpu/cpufreq on this phone"
    assert cp.no_clock_reason("", "host") == "/sys/devices/system/cpu/cpufreq holds no policy on this host (no cpufreq driver)"
    assert cp.no_clock_reason("policy0\n", "phone").startswith("no readable cpufreq policy")


TEXT_PARSERS = {"task_stat": cp.parse_task_stat, "time_in_state": cp.parse_time_in_state, "cpu_list": cp.parse_cpu_list,
                "policy_facts": lambda text: cp.parse_policy_facts(text, ["policy0"]),
                "clock": lambda text: cp.parse_clock_reading(text, ["cpufreq/policy0"]),
                "per_cpu": lambda text: cp.parse_per_cpu_values(text, [0, 1])}


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@settings(max_examples=80, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789 -,()\n:ca")) | st.characters(), max_size=300))
def test_parsers_raise_only_parse_errors(name, text):
    try:
        TEXT_PARSERS[name](text)
    except ParseError as exc:
        assert "\n" not in str(exc)


# ---- clusters ----------------------------------------------------------------------------------
ANDROID13_POLICIES = {"policy0": ([0, 1, 2, 3], 1803000), "policy4": ([4, 5], 2253000), "policy6": ([6, 7], 2802000)}


def test_clusters_from_policies_are_ranked_by_top_clock():
    found = cp.discover_clusters(8, policy_facts=dict(reversed(ANDROID13_POLICIES.items())))
    assert found["source"] == "cpufreq related_cpus" and found["cpufreq_reason"] is None
    assert [(c["name"], c["cpus"], c["max_khz"], c["clock_dirs"]) for c in found["clusters"]] == [
        ("little", [0, 1, 2, 3], 1803000, ["cpufreq/policy0"]), ("mid", [4, 5], 2253000, ["cpufreq/policy4"]),
        ("big", [6, 7], 2802000, ["cpufreq/policy6"])]


def test_policies_with_one_top_clock_are_one_cluster():
    # an x86 host: one policy per CPU, all alike
    found = cp.discover_clusters(4, policy_facts={f"policy{n}": ([n], 3000000) for n in range(4)})
    assert [(c["name"], c["cpus"], len(c["clock_dirs"])) for c in found["clusters"]] == [("cpus", [0, 1, 2, 3], 4)]


def test_clusters_from_cpu_capacity_and_from_cpuinfo_max_freq():
    by_capacity = cp.discover_clusters(4, capacities={0: 381, 1: 381, 2: 1024, 3: 1024})
    assert by_capacity["source"] == "cpu_capacity"
    assert [(c["name"], c["cpus"], c["capacity"]) for c in by_capacity["clusters"]] == [("little", [0, 1], 381),
                                                                                       ("big", [2, 3], 1024)]
    assert by_capacity["cpufreq_reason"]  # no clock folder to read
    by_clock = cp.discover_clusters(4, max_freqs={0: 1593600, 1: 1593600, 2: 2150400, 3: 2150400})
    assert by_clock["source"] == "cpuinfo_max_freq"
    assert [c["clock_dirs"] for c in by_clock["clusters"]] == [["cpu0/cpufreq"], ["cpu2/cpufreq"]]


def test_no_cpufreq_is_one_cluster_with_the_reason():
    found = cp.discover_clusters(2)
    assert found["source"] == "all CPUs as one cluster (no cpufreq)"
    assert found["clusters"][0]["cpus"] == [0, 1] and found["clusters"][0]["name"] == "cpus"
    assert found["cpufreq_reason"] == "no /sys/devices/system/cpu/cpufreq on this host"


def _sysfs(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_host_discovery_reads_each_source_from_a_sysfs_tree(tmp_path):
    cpus = {f"cpu{n}/online": "1\n" for n in range(4)}
    policies = _sysfs(tmp_path / "a", {**cpus, "cpufreq/policy0/related_cpus": "0 1\n",
                                       "cpufreq/policy0/cpuinfo_max_freq": "1900800\n",
                                       "cpufreq/policy2/related_cpus": "2 3\n",
                                       "cpufreq/policy2/cpuinfo_max_freq": "2457600\n", "cpufreq/schedutil/x": ""})
    assert discover_host_clusters(policies)["source"] == "cpufreq related_cpus"
    capacity = _sysfs(tmp_path / "b", {f"cpu{n}/cpu_capacity": f"{512 if n < 2 else 1024}\n" for n in range(4)})
    assert [c["cpus"] for c in discover_host_clusters(capacity)["clusters"]] == [[0, 1], [2, 3]]
    max_freq = _sysfs(tmp_path / "c", {f"cpu{n}/cpufreq/cpuinfo_max_freq": f"{1000 + n // 2}\n" for n in range(4)})
    assert discover_host_clusters(max_freq)["source"] == "cpuinfo_max_freq"
    nothing = discover_host_clusters(_sysfs(tmp_path / "d", cpus))
    assert nothing["source"] == cp.SOURCE_ONE and nothing["cpufreq_reason"] == f"no {tmp_path / 'd'}/cpufreq on this host"
    (tmp_path / "d" / "cpufreq").mkdir()  # these VMs: the folder is there, but no driver put a policy in it
    empty = discover_host_clusters(tmp_path / "d")
    assert empty["cpufreq_reason"] == f"{tmp_path / 'd'}/cpufreq holds no policy on this host (no cpufreq driver)"


def test_host_clock_reading_from_a_sysfs_tree(tmp_path):
    root = _sysfs(tmp_path, {"cpufreq/policy0/related_cpus": "0\n", "cpufreq/policy0/cpuinfo_max_freq": "2000000\n",
                             "cpufreq/policy0/scaling_cur_freq": "1000000\n",
                             "cpufreq/policy0/stats/time_in_state": "1000000 5\n2000000 7\n"})
    clocks = read_host_clocks(discover_host_clusters(root), root)
    assert clocks == {"cpufreq/policy0": {"time_in_state": {1000000: 5, 2000000: 7}, "cur_khz": 1000000}}


def test_this_host_says_where_its_clusters_come_from():
    found = discover_host_clusters()
    folder = Path("/sys/devices/system/cpu/cpufreq")
    if folder.is_dir() and any(p.name.startswith("policy") for p in folder.iterdir()):
        assert found["source"] == "cpufreq related_cpus" and found["cpufreq_reason"] is None
    else:  # these VMs: an empty cpufreq folder (no driver) and, on recent kernels, cpu_capacity
        assert found["source"] in ("cpu_capacity", cp.SOURCE_ONE)
        assert found["cpufreq_reason"].startswith("/sys/devices/system/cpu/cpufreq holds no policy" if folder.is_dir()
                                                  else "no /sys/devices/system/cpu/cpufreq")
        assert not any(c["clock_dirs"] for c in found["clusters"])


# ---- the figure --------------------------------------------------------------------------------
TWO_CLUSTERS = cp.discover_clusters(4, policy_facts={"policy0": ([0, 1], 1000000), "policy2": ([2, 3], 2000000)})


def _samples(start: float, seconds: int, threads) -> list[dict]:
    """One sample a second; `threads(second)` gives {tid: [ticks, cpu]} at that second."""
    return [{"t": start + s, "threads": threads(s)} for s in range(seconds + 1)]


def _reading(t: float, little: dict, big: dict) -> dict:
    return {"t": t, "clocks": {"cpufreq/policy0": {"time_in_state": little, "cur_khz": max(little, default=None)},
                               "cpufreq/policy2": {"time_in_state": big, "cur_khz": max(big, default=None)}}}


def test_shares_threads_worked_and_the_clock_fraction():
    def threads(s):
        # tid 1: 10 ticks/s on CPU 2 (big); tid 2: 5 ticks/s, on CPU 0 (little) for 4 s, then CPU 3 (big);
        # tid 3: one tick in all, under 5 % of the process's time
        return {1: [10 * s, 2], 2: [5 * s, 0 if s <= 4 else 3], 3: [1 if s >= 5 else 0, 1]}

    readings = [_reading(100.0, {1000000: 0}, {1000000: 0, 2000000: 0}),
                _reading(108.0, {1000000: 800}, {1000000: 400, 2000000: 400})]  # big: half the time at half clock
    profile = {"clusters": [{"cpus": [0, 1], "max_khz": 1000000}, {"cpus": [2, 3], "max_khz": 2000000}]}
    figure = cp.placement_figures(_samples(100.0, 8, threads), TWO_CLUSTERS, readings, 100.0, 108.0, profile)
    little, big = figure["clusters"]
    total = 80 + 40 + 1
    assert (little["cpu_share"], big["cpu_share"]) == (round(21 / total, 4), round(100 / total, 4))
    assert little["cpu_share"] + big["cpu_share"] == pytest.approx(1, abs=1e-4)
    assert figure["big_core_share"] == big["cpu_share"]
    assert (figure["threads_seen"], figure["threads_worked"]) == (3, 2)
    assert (little["mean_khz"], little["clock_fraction"]) == (1000000, 1.0)
    assert (big["mean_khz"], big["clock_fraction"]) == (1500000, 0.75)
    assert figure["clock_fraction"] == pytest.approx(little["cpu_share"] * 1.0 + big["cpu_share"] * 0.75, abs=1e-4)
    assert figure["clock_source"] == "time_in_state" and figure["clock_reason"] is None
    assert figure["status"] == "ok" and figure["profile_check"] == "matches the device profile"
    json.dumps(figure, allow_nan=False)


def test_time_between_samples_goes_to_the_cpu_of_the_later_sample():
    figure = cp.placement_figures(_samples(0.0, 2, lambda s: {1: [10 * s, [0, 2, 0][s]]}), TWO_CLUSTERS, [], 0, 2, {})
    # 0 -> 1 s it ended on CPU 2 (big), 1 -> 2 s on CPU 0 (little)
    assert [c["cpu_share"] for c in figure["clusters"]] == [0.5, 0.5]
    assert figure["clock_fraction"] is None and figure["clock_reason"] == "no cpufreq reading was taken during the run"


def test_only_samples_inside_the_window_count():
    def threads(s):  # 1000 ticks on CPU 0 before the window and after it, 10 ticks a second on CPU 2 inside
        return {1: [1000 * (s >= 2) + 10 * min(max(s - 2, 0), 4) + 1000 * (s >= 7), 0 if s < 2 or s > 6 else 2]}

    figure = cp.placement_figures(_samples(0.0, 8, threads), TWO_CLUSTERS, [], 2.0, 6.0, {})
    assert figure["big_core_share"] == 1.0
    few = cp.placement_figures(_samples(0.0, 8, threads), TWO_CLUSTERS, [], 2.5, 3.5, {})
    assert few["status"] == "unavailable" and few["reason"].startswith("1 thread sample(s) in the measured window")


def test_scaling_cur_freq_samples_stand_in_for_time_in_state():
    readings = [{"t": float(t), "clocks": {"cpufreq/policy0": {"time_in_state": None, "cur_khz": 500000},
                                           "cpufreq/policy2": {"time_in_state": None, "cur_khz": 2000000}}}
                for t in range(0, 5)]
    figure = cp.placement_figures(_samples(0.0, 4, lambda s: {1: [10 * s, 1]}), TWO_CLUSTERS, readings, 0, 4, {})
    assert figure["clock_source"] == "scaling_cur_freq samples"
    assert figure["clusters"][0]["clock_fraction"] == 0.5 and figure["clock_fraction"] == 0.5


def test_no_cpufreq_makes_the_figure_unavailable_but_still_counts_threads():
    discovery = cp.discover_clusters(2)
    figure = cp.placement_figures(_samples(0.0, 3, lambda s: {1: [10 * s, s % 2], 2: [9 * s, 1]}), discovery, [], 0, 3,
                                  get_profile("local"))
    assert figure["status"] == "unavailable"
    assert figure["reason"].startswith("no /sys/devices/system/cpu/cpufreq on this host")
    assert figure["clock_reason"] == "no /sys/devices/system/cpu/cpufreq on this host"
    assert (figure["threads_seen"], figure["threads_worked"]) == (2, 2)
    assert figure["clusters"] == [{"name": "cpus", "cpus": [0, 1], "max_khz": None, "cpu_share": 1.0, "mean_khz": None,
                                   "clock_fraction": None}]
    assert figure["big_core_share"] is None and figure["clusters_source"] == cp.SOURCE_ONE
    assert figure["profile_check"] == "the device profile lists no CPUs"
    json.dumps(figure, allow_nan=False)


def test_an_idle_window_and_the_stand_in_figure_are_unavailable():
    idle = cp.placement_figures(_samples(0.0, 3, lambda s: {1: [5, 2]}), TWO_CLUSTERS, [], 0, 3, {})
    assert idle["status"] == "unavailable" and "no CPU time" in idle["reason"]
    assert all(c["cpu_share"] is None for c in idle["clusters"])
    off = cp.unavailable_placement("sampling was off")
    assert off["status"] == "unavailable" and off["reason"] == off["clock_reason"] == "sampling was off"


def test_profile_check_against_the_pixel2_profile():
    pixel2 = get_profile("pixel2")
    same = cp.discover_clusters(8, policy_facts={"policy0": ([0, 1, 2, 3], 1900800), "policy4": ([4, 5, 6, 7], 2457600)})
    assert cp.profile_check(same, pixel2) == "matches the device profile"
    capped = cp.discover_clusters(8, policy_facts={"policy0": ([0, 1, 2, 3], 1900800), "policy4": ([4, 5, 6, 7], 2361600)})
    assert cp.profile_check(capped, pixel2) == ("differs from the device profile: CPUs 4-7 top out at 2361600 kHz here, "
                                                "2457600 in the profile")
    other = cp.discover_clusters(2, policy_facts={"policy0": ([0], 1900800), "policy1": ([1], 2457600)})
    assert cp.profile_check(other, pixel2) == ("differs from the device profile: CPUs 0-3 | 4-7 in the profile, 0 | 1 "
                                               "here (cpufreq related_cpus)")


def test_device_profiles_cpus_agree_with_their_core_counts():
    for profile in all_profiles().values():
        listed = [c for c in profile.get("clusters", []) if "cpus" in c]
        for cluster in listed:
            assert len(cluster["cpus"]) == cluster["cores"], profile["name"]
        every = [cpu for cluster in listed for cpu in cluster["cpus"]]
        assert len(every) == len(set(every)), profile["name"]
    assert [c["cpus"] for c in get_profile("pixel2")["clusters"]] == [[0, 1, 2, 3], [4, 5, 6, 7]]
