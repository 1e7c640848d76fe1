"""Property tests: the device and /proc parsers, on generated and truncated input, return or raise ParseError only."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmx_bench.errors import ParseError
from cmx_bench.measure import android_dumpsys as dumpsys
from cmx_bench.measure import linux_proc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "android"
REAL_OUTPUTS = {path.relative_to(FIXTURES).as_posix(): path.read_text() for path in sorted(FIXTURES.glob("*/*.txt"))}
REAL_OUTPUTS["proc/pid_stat"] = ("4242 (org.cmxbench.run ner) S 1 4242 0 0 -1 4194624 9046 0 0 0 312 48 0 0 20 0 "
                                 "23 0 1051 1617543168 30211 18446744073709551615 1 1 0 0 0 0 4612 1 1073775864 0 0 0 "
                                 "17 3 0 0 0 0 0\n")
REAL_OUTPUTS["proc/stat"] = "cpu  113 2 88 9046 11 0 6 0 0 0\ncpu0 50 1 40 4500 5 0 3 0 0 0\nintr 123\n"
REAL_OUTPUTS["proc/status"] = "Name:\trunner\nVmHWM:\t  123456 kB\nVmRSS:\t  120000 kB\n"
REAL_OUTPUTS["sys/cpu_possible"] = "0-7\n"
REAL_OUTPUTS["getprop"] = "[ro.product.model]: [Pixel 2]\n[ro.build.version.release]: [11]\n"

PARSERS = {
    "meminfo": dumpsys.parse_meminfo_totals_kb, "battery": dumpsys.parse_battery,
    "batterystats": lambda text: dumpsys.parse_batterystats_uid_mah(text, 10123), "thermal": dumpsys.parse_thermal,
    "rails": dumpsys.parse_power_rails_mj, "df": dumpsys.parse_df_available_kb, "cpu_possible": dumpsys.parse_cpu_possible,
    "package": dumpsys.parse_kv_dump, "getprop": dumpsys.parse_getprop, "pid_stat": linux_proc.parse_pid_stat_ticks,
    "pid_rss": linux_proc.parse_pid_stat_rss_pages, "proc_stat": linux_proc.parse_proc_stat_total_ticks,
    "status": lambda text: linux_proc.parse_status_kb(text, "VmHWM"), "smaps": linux_proc.parse_smaps_rollup_kb,
}
# Characters that matter to these layouts, so that generated text often looks almost right.
LAYOUT_TEXT = st.text(alphabet=st.sampled_from(list("0123456789 .:-,()[]{}=\n\tTOTALPSmValueNcpuUidk")) | st.characters(),
                      max_size=400)


def _only_parse_errors(parse, text):
    try:
        parse(text)
    except ParseError as exc:
        assert "\n" not in str(exc) and str(exc)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=LAYOUT_TEXT)
def test_generated_text(name, text):
    _only_parse_errors(PARSERS[name], text)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=40, deadline=None)
@given(source=st.sampled_from(sorted(REAL_OUTPUTS)), cut=st.floats(0, 1), garble=st.binary(max_size=8))
def test_real_outputs_cut_short_or_garbled(name, source, cut, garble):
    text = REAL_OUTPUTS[source]
    end = int(len(text) * cut)
    _only_parse_errors(PARSERS[name], text[:end])
    _only_parse_errors(PARSERS[name], text[:end] + garble.decode("latin-1") + text[end:])


def test_a_truncated_stat_line_is_a_parse_error_with_one_line():
    with pytest.raises(ParseError, match="cannot read /proc/<pid>/stat output"):
        linux_proc.parse_pid_stat_ticks(REAL_OUTPUTS["proc/pid_stat"][:40])
    with pytest.raises(ParseError):
        dumpsys.parse_meminfo_totals_kb("Applications Memory Usage (in Kilobytes):\n** MEMINFO in pid 42 [org")
