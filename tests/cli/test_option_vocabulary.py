"""One option vocabulary: every --option that an error message suggests is an option of the command that printed it."""

import re
from pathlib import Path

import pytest
import torch

from cmx_bench.data.phantoms import write_phantom_folder
from cmx_bench.nets.registry import build_model, get_card
from cmx_bench.results.store import write_record
from tests.records import make_record

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
UNWRITABLE = "/proc/cmx-bench-out"  # a folder nobody can create, root included
QUICK = ["--iters", "3", "--min-duration", "0", "--no-sampling"]
TRAIN = ["--preset", "tiny", "--epochs", "1"]


class Inputs:
    """Bad inputs of each kind, made once per test module: paths under one folder."""

    def __init__(self, root: Path, checkpoint: Path):
        self.root, self.checkpoint = root, checkpoint
        self.missing = root / "missing.pth"
        self.pickled = root / "whole.pth"
        torch.save(build_model(get_card("squeezenet1_1")), self.pickled)
        self.good = write_phantom_folder(root / "good", per_class=8, size=48, seed=4)
        self.bad_image = write_phantom_folder(root / "bad-image", per_class=2, size=48, seed=4)
        (self.bad_image / "covid" / "broken.png").write_bytes(b"not a png at all")
        rows = "".join(f"{p.relative_to(root)},{p.parent.name},{p.stem},{split}\n"
                       for p, split in zip(sorted(self.good.rglob("*.png")), ["train", "train", "val", "test"] * 6))
        self.manifest = root / "good.csv"  # split into train, val and test
        self.manifest.write_text("file,label,patient_id,split\n" + rows)
        self.bad_row = root / "bad-row.csv"  # its last row names a file that is not there
        self.bad_row.write_text(self.manifest.read_text() + "good/covid/not-there.png,covid,x,train\n")
        self.broken_in_train = root / "broken-in-train.csv"  # every row readable as a listing, one image not
        self.broken_in_train.write_text(self.manifest.read_text() + "bad-image/covid/broken.png,covid,x,train\n")
        self.evaluated = root / "evaluated"
        self.evaluated.mkdir()
        (self.evaluated / "evaluation.json").write_text("{}")
        self.not_a_source = root / "not-a-source"
        self.not_a_source.mkdir()
        for device in ("local", "pixel2"):
            write_record(root / "records" / device, make_record(device=device, seed=1))

    def out(self, name: str) -> Path:
        return self.root / "out" / name


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, squeezenet_checkpoint):
    return Inputs(tmp_path_factory.mktemp("vocabulary"), squeezenet_checkpoint)


def _on_cpu_only(reason: str):
    return pytest.mark.skipif(torch.cuda.is_available(), reason=reason)


def _case(name: str, command: str, arguments, marks=()):
    """A refused input: the command's words, and its arguments made from the inputs and this case's --out."""
    return pytest.param(command.split(), arguments, id=name, marks=marks)


CASES = [
    _case("run-missing-weights", "run", lambda i: ["-m", "squeezenet1_1", "-w", i.missing]),
    _case("run-pickled-weights", "run", lambda i: ["-m", "squeezenet1_1", "-w", i.pickled]),
    _case("run-ambiguous-weights", "run", lambda i: ["-m", "squeezenet1_1", "-m", "mobilenet_v2", "-w",
                                                     i.checkpoint]),
    _case("run-weights-of-another-network", "run", lambda i: ["-m", "mobilenet_v2", "-w", i.checkpoint]),
    _case("run-bad-image", "run", lambda i: ["-m", "squeezenet1_1", "--data", i.bad_image]),
    _case("run-bad-manifest-row", "run", lambda i: ["-m", "squeezenet1_1", "--data", i.bad_row]),
    _case("run-unwritable-out", "run", lambda i: ["-m", "squeezenet1_1", *QUICK, "--out", UNWRITABLE]),
    _case("run-runner-timeout", "run", lambda i: ["-m", "squeezenet1_1", "--no-sampling", "--min-duration", "60",
                                                  "--timeout", "1"]),
    _case("train-no-data", "train ms", lambda i: ["--model", "squeezenet1_1", *TRAIN]),
    _case("train-bad-manifest-row", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.bad_row, *TRAIN]),
    _case("train-bad-image", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.broken_in_train,
                                                    *TRAIN]),
    _case("train-fp16-on-cpu", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.manifest,
                                                      "--precision", "fp16", "--accelerator", "cpu", *TRAIN]),
    _case("train-cuda-without-cuda", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.manifest,
                                                            "--accelerator", "cuda", *TRAIN],
          marks=_on_cpu_only("this machine has CUDA")),
    _case("train-missing-init", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.manifest, "--init",
                                                       i.missing, *TRAIN]),
    _case("train-pickled-init", "train ms", lambda i: ["--model", "squeezenet1_1", "--data", i.manifest, "--init",
                                                       i.pickled, *TRAIN]),
    _case("evaluate-missing-weights", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.missing, "--data",
                                                             i.manifest]),
    _case("evaluate-plain-state-dict", "evaluate", lambda i: ["-w", i.checkpoint, "--data", i.manifest]),
    _case("evaluate-pickled-weights", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.pickled, "--data",
                                                             i.manifest]),
    _case("evaluate-bad-image", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.checkpoint, "--data",
                                                       i.bad_image, "--split", "all"]),
    _case("evaluate-bad-manifest-row", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.checkpoint, "--data",
                                                              i.bad_row]),
    _case("evaluate-into-an-evaluation", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.checkpoint,
                                                                "--data", i.manifest, "--out", i.evaluated]),
    _case("evaluate-fp16-on-cpu", "evaluate", lambda i: ["-m", "squeezenet1_1", "-w", i.checkpoint, "--data",
                                                         i.manifest, "--precision", "fp16", "--accelerator", "cpu"]),
    _case("prepare-no-source", "data prepare", lambda i: []),
    _case("prepare-bad-split", "data prepare", lambda i: ["--manifest", i.manifest, "--split", "1:2"]),
    _case("prepare-not-kermany", "data prepare", lambda i: ["--kermany", i.not_a_source]),
    _case("prepare-not-covid-chestxray", "data prepare", lambda i: ["--covid-chestxray", i.not_a_source]),
    _case("prepare-not-rsna", "data prepare", lambda i: ["--rsna", i.not_a_source]),
    _case("prepare-bad-manifest-row", "data prepare", lambda i: ["--manifest", i.bad_row]),
    _case("snapshots-bad-image", "data snapshots", lambda i: [i.bad_image]),
    _case("snapshots-bad-manifest-row", "data snapshots", lambda i: [i.bad_row]),
    _case("export-missing-weights", "export", lambda i: ["-m", "squeezenet1_1", "-w", i.missing]),
    _case("export-pickled-weights", "export", lambda i: ["-m", "squeezenet1_1", "-w", i.pickled]),
    _case("export-unwritable-out", "export", lambda i: ["-m", "squeezenet1_1", "--out", UNWRITABLE]),
    _case("export-bad-calibration-image", "export", lambda i: ["-m", "squeezenet1_1", "-f", "pte-int8",
                                                               "--calibration", i.bad_image]),
    _case("compare-devices-differ", "compare", lambda i: [i.root / "records" / "pixel2", i.root / "records" / "local"]),
    _case("compare-bad-threshold", "compare", lambda i: [i.root / "records" / "local", i.root / "records" / "local",
                                                         "--threshold", "latency_median_ms"]),
    _case("report-unwritable-out", "report", lambda i: [i.root / "records", "--out", UNWRITABLE]),
]

# Messages that suggest no option: the command still refuses them, and names nothing it lacks.
# Messages that say what to do without naming an option (a missing file is named by the option the user gave).
NO_SUGGESTION = {"report-unwritable-out", "run-missing-weights", "train-missing-init", "evaluate-missing-weights",
                 "export-missing-weights"}


def _options_of(cli, command: list[str]) -> set[str]:
    code, stdout, stderr = cli(*command, "--help")
    assert code == 0, stderr
    return set(OPTION.findall(stdout))


# Commands whose output goes to a folder or file given with --out (required by some): each case gets its own.
WRITES_OUT = {("run",), ("train", "ms"), ("evaluate",), ("data", "prepare"), ("data", "snapshots"), ("export",)}


@pytest.mark.parametrize("command, arguments", CASES)
def test_every_option_an_error_suggests_is_one_the_command_takes(cli, monkeypatch, inputs, request, command,
                                                                   arguments):
    monkeypatch.setenv("COLUMNS", "250")  # help tables unwrapped
    monkeypatch.chdir(inputs.root)  # any default output folder lands in the module's temporary folder
    args = [str(a) for a in arguments(inputs)]
    if tuple(command) in WRITES_OUT and "--out" not in args:
        args += ["--out", str(inputs.out(request.node.callspec.id))]
    code, stdout, stderr = cli(*command, *args)
    message = " ".join(stderr.split())
    assert code != 0 and message.startswith("error:"), (stdout, stderr)
    suggested = set(OPTION.findall(message))
    if request.node.callspec.id not in NO_SUGGESTION:
        assert suggested, message
    lacking = suggested - _options_of(cli, command)
    assert not lacking, f"{' '.join(command)} takes no {', '.join(sorted(lacking))}, which this suggests: {message}"


RUN_ONLY_MODULES = ["cmx_bench/devices/android/phone_device.py", "cmx_bench/devices/android/runner_app.py",
                    "cmx_bench/devices/android/adb_link.py", "cmx_bench/devices/android/discovery.py",
                    "cmx_bench/devices/local.py", "cmx_bench/devices/registry.py",
                    "cmx_bench/export/compatibility.py"]


def test_every_option_the_device_messages_suggest_is_an_option_of_run(cli, monkeypatch):
    """The device messages, read from the source, since a real phone's refusals cannot all be staged here; `run` is the
    command that reaches phones (`profile` does too, with a few options of its own: not checked here)."""
    monkeypatch.setenv("COLUMNS", "250")
    root = Path(__file__).resolve().parents[2]
    suggested = {option for module in RUN_ONLY_MODULES for option in OPTION.findall((root / module).read_text())}
    suggested -= {"--es", "--ei", "--ez", "--reset"}  # not suggestions: am's and batterystats' flags, sent to the phone
    assert suggested and suggested <= _options_of(cli, ["run"]), suggested - _options_of(cli, ["run"])
