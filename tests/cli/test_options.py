"""Shared options are declared once (cli/options.py), and every training command takes them."""

import re
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "cmx_bench" / "cli"


@pytest.mark.parametrize("option", ["--accelerator", "--precision", "--workers", "--recipe", "--preset", "--epochs"])
def test_a_shared_option_is_declared_once(option):
    declared = {path.name: len(re.findall(f'"{option}"', path.read_text())) for path in CLI.glob("*.py")}
    # data cache --workers counts decoding processes, not DataLoader workers: its own option.
    expected = {"options.py": 1, **({"data_commands.py": 1} if option == "--workers" else {})}
    assert {name: count for name, count in declared.items() if count} == expected


@pytest.mark.parametrize("command, options", [
    (("train", "rf"), ["--accelerator", "--precision", "--workers", "--recipe", "--epochs", "--lr"]),
    (("sweep",), ["--accelerator", "--precision", "--workers", "--recipe", "--epochs", "--lr"]),
    (("evaluate",), ["--accelerator", "--precision", "--workers"]),
])
def test_training_commands_take_the_shared_options(cli, command, options):
    code, out, _ = cli(*command, "--help")
    assert code == 0
    for option in options:
        assert option in out, option
