"""The host's CPU name: read from /proc/cpuinfo, with a fallback where there is none."""

import platform

from cmx_bench.hostinfo import cpu_model, package_versions


def test_cpu_model_is_the_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert cpu_model(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"


def test_cpu_model_without_cpuinfo_falls_back_to_platform(tmp_path):
    assert cpu_model(tmp_path / "missing") == (platform.processor() or platform.machine())


def test_package_versions_name_each_installed_version_and_none_for_a_missing_one():
    import importlib.metadata

    versions = package_versions(("numpy", "no-such-distribution-cmx"))
    assert versions == {"numpy": importlib.metadata.version("numpy"), "no-such-distribution-cmx": None}
