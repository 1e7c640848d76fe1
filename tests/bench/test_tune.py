"""`cmx-bench tune`: knobs timed on and off, the decision rule, the tuning kept per device, hardware, runtime and
threads, and `run` lowering with it (or not, with --untuned); a tuning that stops part way keeps what it measured."""

import json
from pathlib import Path

import pytest

from cmx_bench.bench import tune as tune_module
from cmx_bench.bench.tuned import entry_key, save_tuning, tuned_choices, tuning_path
from cmx_bench.bench.tune import MARGIN, TuneFailed, TuneOptions, decide, tune_device
from cmx_bench.devices.base import DeviceRun
from cmx_bench.devices.registry import resolve_device
from cmx_bench.errors import CmxError, DeviceError
from cmx_bench.export.choices import LoweringChoices, target_default
from cmx_bench.export.manifest import verify_artifact
from cmx_bench.export.targets import host_target
from cmx_bench.runner.protocol import JobSettings

SHORT_JOB = JobSettings(warmup=1, iterations=3, min_duration_s=0.0, settle_s=0.0)


@pytest.fixture(autouse=True)
def no_tuning_left_behind():
    """The tests share one artifact cache, and a tuning beside it would change how later tests' runs lower."""
    yield
    for device in ("local", "pixel2"):
        tuning_path(device).unlink(missing_ok=True)


@pytest.mark.parametrize("ratios, default_on, chosen", [
    ([0.90], False, True), ([0.90], True, True), ([1.10], True, False), ([1.10], False, False),
    ([1.0 + MARGIN / 2], True, True), ([1.0 - MARGIN / 2], False, False), ([], True, True), ([], False, False),
    ([0.5, 1.2, 1.1], True, False), ([0.5, 0.9, 1.3], False, True)])
def test_a_knob_moves_off_its_default_only_when_the_median_round_is_beyond_the_margin(ratios, default_on, chosen):
    on, reason = decide(ratios, default_on)
    assert on is chosen
    assert ("default stays" in reason) == (not ratios or abs(sorted(ratios)[len(ratios) // 2] - 1) < MARGIN)


def test_the_decision_says_how_many_rounds_agree_with_it():
    assert decide([1.59, 1.14, 0.74, 1.0, 1.21], False)[1] == "off: on takes 1.140x the time (3 of 5 rounds)"
    assert decide([0.42, 1.13, 0.97, 0.88, 0.95], True)[1] == "on: it takes 0.950x the time (4 of 5 rounds)"


FACTS = {"kind": "android", "model": "Pixel 2", "abi": "arm64-v8a"}


def test_a_tuning_is_read_back_only_for_the_same_hardware_runtime_and_threads():
    tuned = LoweringChoices(("plan_shuffles", "im2col_convolutions"), ("plan_shuffles",), "tuned")
    path = save_tuning("pixel2", FACTS, "1.5.1", 4, tuned, [{"knob": "im2col_convolutions"}])
    assert path == tuning_path("pixel2")
    read = tuned_choices("pixel2", FACTS, "1.5.1", 4)
    assert (read.fp32, read.int8) == (tuned.fp32, tuned.int8) and read.source.startswith("tuned on pixel2 20")
    assert tuned_choices("pixel2", FACTS, "1.5.1", 2) is None  # other threads
    assert tuned_choices("pixel2", FACTS, "1.6.0", 4) is None  # another runtime
    assert tuned_choices("pixel2", {**FACTS, "model": "Pixel 3"}, "1.5.1", 4) is None  # other hardware
    assert tuned_choices("pixel6", FACTS, "1.5.1", 4) is None  # no file
    # a new tuning of the same key replaces the old one; others stay
    save_tuning("pixel2", FACTS, "1.5.1", 2, target_default("arm"), [])
    save_tuning("pixel2", FACTS, "1.5.1", 4, target_default("arm"), [])
    entries = json.loads(path.read_text())["entries"]
    assert [e["key"]["threads"] for e in entries] == [2, 4]
    assert tuned_choices("pixel2", FACTS, "1.5.1", 4).fp32 == target_default("arm").fp32
    assert entries[0]["key"] == entry_key(FACTS, "1.5.1", 2) and entries[0]["key"]["target"] == "arm"


def test_an_unreadable_tuning_file_is_a_one_line_error_that_says_what_to_do():
    path = tuning_path("pixel3")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(CmxError, match="tuning file .*pixel3.json is unreadable .*run 'cmx-bench tune'") as caught:
        tuned_choices("pixel3", FACTS, "1.5.1", 4)
    assert "\n" not in str(caught.value)
    path.unlink()


class TimedByChoices:
    """The local device, but a run's latency is made up from the artifact's lowering: im2col programs take
    `im2col_ms`, others 1.0 ms; with `fail`, every run raises DeviceError (a phone unplugged)."""

    def __init__(self, im2col_ms: float = 0.5, fail: bool = False):
        self.local, self.im2col_ms, self.fail, self.timed = resolve_device("local"), im2col_ms, fail, []
        self.name = self.local.name

    def facts(self):
        return self.local.facts()

    def runtimes(self):
        return self.local.runtimes()

    def run(self, artifact, inputs, job, settings, workdir):
        if self.fail:
            raise DeviceError("phone local went away during the run; plug it in and run again")
        lowering = verify_artifact(artifact)["lowering"]
        self.timed.append((job["threads"], lowering["choices"]))
        ms = self.im2col_ms if lowering["passes"].get("im2col_convolutions") else 1.0
        return DeviceRun({"status": "ok", "latencies_ms": [ms, ms, ms]})


def test_tune_keeps_the_faster_form_and_run_lowers_with_it_unless_untuned(monkeypatch, cli, tmp_path):
    device = TimedByChoices(im2col_ms=0.5)  # im2col twice as fast: chosen on, whatever the host's default
    monkeypatch.setattr(tune_module, "resolve_device", lambda name, android=None: device)
    monkeypatch.setenv("COLUMNS", "160")
    code, out, err = cli("tune", "-m", "squeezenet1_1", "-f", "pte", "--rounds", "2", "--threads", "1")
    assert code == 0, err
    assert "Lowering knobs on local" in out and "im2col_convolutions" in out
    entry = json.loads(tuning_path("local").read_text())["entries"][-1]
    assert entry["complete"] and entry["key"]["threads"] == 1 and entry["key"]["target"] == host_target()
    trials = {trial["knob"]: trial for trial in entry["trials"]}
    assert set(trials) == {"plan_shuffles", "pad_to_gemm_width", "im2col_convolutions"}
    im2col = trials["im2col_convolutions"]
    assert im2col["models"] == ["squeezenet1_1"] and im2col["round_ratios"] == [0.5, 0.5]
    assert im2col["ratio"] == 0.5 and im2col["chosen_on"] and im2col["on_ms"] == 0.5 and im2col["off_ms"] == 1.0
    assert trials["plan_shuffles"]["ratio"] is None and trials["plan_shuffles"]["models"] == []  # no shuffle here
    assert "im2col_convolutions" in entry["choices"]["fp32"] and entry["choices"]["int8"] == []
    assert all(threads == 1 for threads, _ in device.timed)
    # both forms were timed, each round, at the thread count asked for
    assert sum("im2col_convolutions" in (choices or []) for _, choices in device.timed) == 2

    run_args = ("run", "-m", "squeezenet1_1", "-f", "pte", "--threads", "1", "--iters", "3", "--warmup", "0",
                "--min-duration", "0", "--no-sampling")
    for extra, tuned in (((), True), (("--untuned",), False)):
        out_dir = tmp_path / ("tuned" if tuned else "untuned")
        code, out, err = cli(*run_args, *extra, "--out", out_dir)
        assert code == 0, err
        record = json.loads(next(out_dir.glob("*/records/*.json")).read_text())
        lowering = record["artifact"]["lowering"]
        assert ("im2col_convolutions" in lowering["choices"]) is (tuned or host_target() == "x86-64-avx2")
        assert lowering["choices_source"].startswith("tuned on local" if tuned else f"default for {host_target()}")
        assert bool(lowering["passes"]["im2col_convolutions"]) is ("im2col_convolutions" in lowering["choices"])


def test_a_tuning_that_stops_part_way_keeps_the_knobs_it_measured(monkeypatch):
    device = TimedByChoices(fail=True)
    monkeypatch.setattr(tune_module, "resolve_device", lambda name, android=None: device)
    options = TuneOptions(models=["squeezenet1_1"], formats=["pte"], threads=3, rounds=1, job=SHORT_JOB)
    with pytest.raises(TuneFailed, match=r"went away .*; the \d knob\(s\) measured before are kept in .*local.json"):
        tune_device(options)
    entry = json.loads(tuning_path("local").read_text())["entries"][-1]
    assert entry["key"]["threads"] == 3 and entry["complete"] is False
    # SqueezeNet has no shuffle to plan: that knob needed no timing and is kept; the timing that failed is not
    assert entry["trials"] and all(trial["ratio"] is None for trial in entry["trials"])
    assert [trial["knob"] for trial in entry["trials"]][0] == "plan_shuffles"


def test_tune_refuses_an_unknown_model_or_device_before_anything_runs(cli):
    code, _, err = cli("tune", "-m", "resnet9000")
    assert code == 1 and "resnet9000" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("tune", "-f", "onnx")
    assert code == 1 and "onnx" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("tune", "-f", "ptl")
    assert code == 1 and "use --format pte or pte-int8" in err and len(err.strip().splitlines()) == 1


def test_run_refuses_an_unreadable_tuning_before_it_measures_anything(cli, tmp_path):
    path = tuning_path("local")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"tuning_version": 1, "entries": "none"}')
    code, _, err = cli("run", "-m", "squeezenet1_1", "-f", "pte", "--out", tmp_path / "out")
    assert code == 1 and "tuning file" in err and "unreadable" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    # --untuned does not read it, and the stock lowering has nothing to tune
    for extra in (("--untuned",), ("--lowering", "stock")):
        code, _, err = cli("run", "-m", "squeezenet1_1", "-f", "pte", "--iters", "2", "--warmup", "0",
                           "--min-duration", "0", "--no-sampling", *extra, "--out", tmp_path / "ok")
        assert code == 0, err
