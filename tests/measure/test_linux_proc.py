from cmx_bench.measure.linux_proc import (parse_pid_stat_ticks, parse_proc_stat_total_ticks, parse_smaps_rollup_kb,
                                          parse_status_kb)

# A command name holding spaces and parentheses, as seen in /proc/<pid>/stat.
PID_STAT = ("4242 (org.cmx (bench) app) S 612 612 0 0 -1 1077952832 51234 0 12 0 "
            "1520 311 7 3 20 0 31 0 98765 2345678 45678 18446744073709551615 0 0 0 0 0 0 4612 1 1073775864")
PROC_STAT = "cpu  100 20 30 400 5 6 7 8 9 10\ncpu0 50 10 15 200 2 3 3 4 0 0\n"
STATUS = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  812344 kB\nVmRSS:\t  800000 kB\n"
ROLLUP = "5586-7ffd [rollup]\nRss:  949004 kB\nPss:  945429 kB\nPrivate_Clean:  553632 kB\nPrivate_Dirty:  388984 kB\n"


def test_pid_stat_fields_counted_after_the_closing_parenthesis():
    assert parse_pid_stat_ticks(PID_STAT) == {"utime": 1520, "stime": 311, "cutime": 7, "cstime": 3}


def test_proc_stat_total_excludes_guest_time():
    assert parse_proc_stat_total_ticks(PROC_STAT) == 100 + 20 + 30 + 400 + 5 + 6 + 7 + 8


def test_status_and_smaps_rollup():
    assert parse_status_kb(STATUS, "VmHWM") == 812344
    assert parse_status_kb(STATUS, "VmSwap") is None
    assert parse_smaps_rollup_kb(ROLLUP) == {"rss_kb": 949004, "pss_kb": 945429, "uss_kb": 553632 + 388984}
