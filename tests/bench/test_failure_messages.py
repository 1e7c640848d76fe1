"""What a failed run says it kept: "measured results are kept" only when some run measured something (issue #26)."""

from cmx_bench.bench.fleet import FleetFailed, FleetOutcome
from cmx_bench.bench.session import BenchFailed, BenchOutcome, kept_note
from cmx_bench.devices.local import LocalDevice
from cmx_bench.errors import DeviceError
from tests.records import make_record

REFUSAL = ("emulator-5554 (pixel2) is not ready: only 1 MB free on /data, 25 MB needed; free some space; "
           "or pass --force")


def _failed(record: dict, reason: str = REFUSAL) -> dict:
    record["status"], record["errors"] = "error", [reason]
    return record


def test_kept_note_claims_measured_results_only_when_there_are_some(tmp_path):
    assert kept_note([make_record(), _failed(make_record())], tmp_path) == f"measured results are kept in {tmp_path}"
    assert kept_note([_failed(make_record())], tmp_path) == f"nothing was measured; the failed runs are recorded in {tmp_path}"
    assert kept_note([], tmp_path) == "nothing was measured"


def test_a_run_whose_every_plan_was_refused_says_nothing_was_measured(tmp_path):
    message = str(BenchFailed(BenchOutcome(tmp_path, [_failed(make_record())], {}), [f"squeezenet1_1 pte: {REFUSAL}"]))
    assert "nothing was measured" in message and "measured results are kept" not in message


def test_a_fleet_claims_kept_results_only_for_devices_that_measured(tmp_path):
    fleet = FleetOutcome(devices=["a", "b"], failures={"a": REFUSAL, "b": REFUSAL},
                         outcomes={"a": BenchOutcome(tmp_path / "a", [_failed(make_record())], {})})
    assert str(FleetFailed(fleet)).endswith("; nothing was measured")
    fleet.outcomes["b"] = BenchOutcome(tmp_path / "b", [make_record()], {})
    assert str(FleetFailed(fleet)).endswith(f"; measured results are kept in {tmp_path / 'b'}")


def test_a_precheck_refusal_through_the_cli_says_nothing_was_measured(cli, tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise DeviceError(REFUSAL)  # what a phone's pre-check raises before anything is pushed

    monkeypatch.setattr(LocalDevice, "run", refuse)
    code, _, stderr = cli("run", "-m", "squeezenet1_1", "--iters", "3", "--min-duration", "0", "--no-sampling",
                          "--out", tmp_path / "reports")
    message = " ".join(stderr.split())
    assert code == 1 and "only 1 MB free" in message and "--force" in message, stderr
    assert "nothing was measured" in message and "measured results are kept" not in message
