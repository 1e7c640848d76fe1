"""The virtual phone's shell: lists, pipes and quoting behave like sh, so that quoting tests can fail for real."""

import shlex

from cmx_bench.devices.virtual.toy_shell import ToyShell, file_commands, tokenize


def _shell(tmp_path):
    def fs_path(path, cwd="/"):
        return tmp_path.joinpath(*[p for p in path.split("/") if p and p != ".."])

    return ToyShell(*file_commands(fs_path))


def test_lists_status_and_redirection(tmp_path):
    shell = _shell(tmp_path)
    assert shell.run("false; echo X4EXIT:$?").stdout == b"X4EXIT:1\n"
    assert shell.run("true && echo yes || echo no").stdout == b"yes\n"
    assert shell.run("false && echo yes || echo no").stdout == b"no\n"
    assert shell.run("echo hi > /a.txt; cat /a.txt | cat").stdout == b"hi\n"
    missing = shell.run("cat /nothing; echo X4EXIT:$?")
    assert missing.combined == b"cat: /nothing: No such file or directory\nX4EXIT:1\n"
    assert shell.run("nosuchcommand").code == 127


def test_an_unquoted_name_runs_a_second_command_and_a_quoted_one_does_not(tmp_path):
    shell = _shell(tmp_path)
    name = "x; touch pwned"
    shell.run(f"echo {name}")
    assert (tmp_path / "pwned").exists()  # the shell really splits on ';' ...
    (tmp_path / "pwned").unlink()
    assert shell.run(f"echo {shlex.quote(name)}").stdout == b"x; touch pwned\n"
    assert not (tmp_path / "pwned").exists()  # ... and quoting prevents it
    assert tokenize("am start --es job '/a b;c'") == ["am", "start", "--es", "job", "/a b;c"]
