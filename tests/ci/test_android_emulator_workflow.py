"""The users' emulator workflow: an x86_64 emulator of API 29+, one command per script line, real options only."""

import shlex
from pathlib import Path

import typer
import yaml

from cmx_bench.cli.main import app

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "android-emulator.yml"


def _steps():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    [job] = workflow["jobs"].values()
    return job["steps"]


def _emulator_step():
    return next(step for step in _steps() if step.get("uses", "").startswith("reactivecircus/android-emulator-runner@"))


def test_the_emulator_is_x86_64_api_29_or_later_and_the_apk_is_built_first():
    steps = _steps()
    emulator = _emulator_step()
    assert emulator["with"]["arch"] == "x86_64" and int(emulator["with"]["api-level"]) >= 29
    build = next(i for i, s in enumerate(steps) if "assembleDebug" in s.get("run", ""))
    assert build < steps.index(emulator)
    assert any("cmx-bench compare" in s.get("run", "") and "baselines/" in s.get("run", "") for s in steps)


def test_each_script_line_is_one_command():
    lines = [line for line in _emulator_step()["with"]["script"].splitlines() if line.strip()]
    assert any(line.startswith("cmx-bench run --device emulator-5554") for line in lines)
    for line in lines:
        words = shlex.split(line)
        assert not {"&&", "||", ";", "|", "if", "then", "fi"} & set(words) and not line.rstrip().endswith("\\"), line


def test_every_cmx_bench_option_in_the_workflow_exists():
    commands = typer.main.get_command(app).commands
    used = [line.strip() for step in _steps() for line in (step.get("run", "") + "\n" +
                                                            step.get("with", {}).get("script", "")).splitlines()
            if line.strip().startswith("cmx-bench ")]
    assert len(used) >= 4
    for line in used:
        words = shlex.split(line.replace('"$BASELINE"', "name"))
        command = commands[words[1]]
        if hasattr(command, "commands"):  # a group such as `baseline save`
            command = command.commands[words[2]]
        known = {opt for param in command.params for opt in param.opts}
        unknown = [w for w in words if w.startswith("--") and w not in known]
        assert unknown == [], (line, unknown)
