"""The adb sampler finds a phone's clusters from whichever sysfs source the phone has, in a few adb commands."""

from cmx_bench.devices.android.sampler import AdbSampler, discover_phone_clusters

CPU = "/sys/devices/system/cpu"


class CannedLink:
    """Answers `cat` and `ls` from a dict of files; records each command, as an adb link would send it."""

    serial = "canned"

    def __init__(self, files: dict[str, str]):
        self.files, self.sent = files, []

    def _run(self, words):
        self.sent.append(words)
        if words[0] == "ls":
            names = {path[len(words[1]) + 1:].split("/")[0] for path in self.files if path.startswith(words[1] + "/")}
            return ("".join(f"{n}\n" for n in sorted(names)), 0) if names else ("", 1)
        found = [self.files.get(path) for path in words[1:]]
        text = "".join(t if t is not None else f"cat: {p}: No such file or directory\n" for p, t in zip(words[1:], found))
        return text, 0 if None not in found else 1

    def read_text(self, words):
        text, code = self._run(words)
        return text if code == 0 else None

    def shell(self, words, check=True):
        return self._run(words)[0]


def test_policies_of_a_pixel2():
    link = CannedLink({f"{CPU}/possible": "0-7\n", f"{CPU}/cpufreq/policy0/related_cpus": "0 1 2 3\n",
                       f"{CPU}/cpufreq/policy0/cpuinfo_max_freq": "1900800\n",
                       f"{CPU}/cpufreq/policy4/related_cpus": "4 5 6 7\n",
                       f"{CPU}/cpufreq/policy4/cpuinfo_max_freq": "2457600\n"})
    found, commands = discover_phone_clusters(link)
    assert found["source"] == "cpufreq related_cpus" and commands == len(link.sent) == 3
    assert [(c["name"], c["cpus"], c["max_khz"]) for c in found["clusters"]] == [("little", [0, 1, 2, 3], 1900800),
                                                                               ("big", [4, 5, 6, 7], 2457600)]


def test_cpu_capacity_then_cpuinfo_max_freq_without_policies():
    capacity = CannedLink({f"{CPU}/possible": "0-3\n", **{f"{CPU}/cpu{n}/cpu_capacity": f"{400 if n < 2 else 1024}\n"
                                                         for n in range(4)}})
    found, _ = discover_phone_clusters(capacity)
    assert found["source"] == "cpu_capacity" and [c["cpus"] for c in found["clusters"]] == [[0, 1], [2, 3]]
    assert found["cpufreq_reason"] == "no /sys/devices/system/cpu/cpufreq on this phone"
    max_freq = CannedLink({f"{CPU}/possible": "0-1\n", f"{CPU}/cpu0/cpufreq/cpuinfo_max_freq": "998400\n",
                           f"{CPU}/cpu1/cpufreq/cpuinfo_max_freq": "998400\n"})
    found, commands = discover_phone_clusters(max_freq)
    assert found["source"] == "cpuinfo_max_freq" and found["clusters"][0]["clock_dirs"] == ["cpu0/cpufreq"]
    assert commands == len(max_freq.sent) == 4


def test_nothing_readable_is_one_cluster_and_the_sampler_says_why():
    link = CannedLink({f"{CPU}/possible": "0-1\n"})
    sampler = AdbSampler(link, "org.cmxbench.runner", 0.0, period_s=0.1, pss_period_s=1.0)
    figure = sampler.placement(0.0, 1.0, {})
    assert figure["status"] == "unavailable" and figure["clusters_source"] == "all CPUs as one cluster (no cpufreq)"
    assert figure["clock_reason"] == "no /sys/devices/system/cpu/cpufreq on this phone"
    sampler.read_clocks()  # no clock folder: nothing is sent
    assert sampler.clock_readings == [] and sampler.commands == len(link.sent)
