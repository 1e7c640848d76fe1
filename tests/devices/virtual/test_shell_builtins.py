"""The virtual phone's shell builtins behave as Android's sh does, through Debian's adb client."""

from tests.devices.conftest import adb

CASES = [
    ("exit 3", "", 3),
    ("exit", "", 0),
    ("false; exit", "", 1),
    ("echo before; exit 4; echo after", "before\n", 4),
    ("false; echo $?", "1\n", 0),
    ("true && echo yes || echo no", "yes\n", 0),
    ("false && echo yes || echo no", "no\n", 0),
    ("cd /data/local/tmp && pwd", "/data/local/tmp\n", 0),
    ("mkdir -p /data/local/tmp/t; cd /data/local/tmp/t; touch here; cd /; ls /data/local/tmp/t", "here\n", 0),
    ("cd /nowhere", "", 2),
    ("test 3 -lt 4 && echo lt", "lt\n", 0),
    ("[ abc = abd ]", "", 1),
    ("[ -d /data/local/tmp ] && echo dir", "dir\n", 0),
    ("[ -e /data/local/tmp/missing ]", "", 1),
    ("test -z ''", "", 0),
    ("command -v cd ls", "cd\n/system/bin/ls\n", 0),
    ("command -v no-such-tool", "", 1),
]




def test_builtins_through_the_real_adb_client(virtual_phone):
    phone = virtual_phone()
    for line, stdout, code in CASES:
        done = adb("-s", phone.serial, "shell", line, check=False)
        assert (done.stdout.replace("\r\n", "\n"), done.returncode) == (stdout, code), line
