"""Names with shell metacharacters reach the phone quoted; several phones run in parallel workers."""

import shutil

from cmx_bench.export.manifest import manifest_path
from cmx_bench.export.service import export_to_folder
from tests.devices.conftest import records_in

FAST = ["--iters", "10", "--warmup", "1", "--min-duration", "0.3"]
EVIL = "x; touch pwned"


def test_a_path_and_an_artifact_name_with_metacharacters_reach_the_phone_quoted(cli, virtual_phone, tmp_path,
                                                                                 monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    [(exported, _)] = export_to_folder("squeezenet1_1", ["pte"], tmp_path / "exported")
    artifact = tmp_path / f"{EVIL}.pte"
    shutil.copy(exported, artifact)
    shutil.copy(manifest_path(exported), manifest_path(artifact))
    phone = virtual_phone()
    device_dir = f"/data/local/tmp/{EVIL}"
    code, _, err = cli("run", "--device", phone.serial, "--artifact", artifact, "--device-dir", device_dir, *FAST,
                       "--out", tmp_path / "reports")
    assert code == 0, err
    log = phone.phone.shell_log.read_text()
    assert f"mkdir -p '{device_dir}/artifacts'" in log  # quoted as one word ...
    assert f"'{device_dir}/jobs/job-" in log
    assert list(phone.phone.root.rglob("pwned")) == [] and list(work.rglob("pwned")) == []  # ... so nothing ran
    assert list(phone.phone.root.glob(f"data/local/tmp/{EVIL}/artifacts/*-{EVIL}.pte"))  # the file is where named


def test_two_phones_run_in_parallel_and_one_failing_does_not_stop_the_other(cli, virtual_phone, tmp_path):
    good = virtual_phone()
    bad = virtual_phone(runner_crash=True)
    code, out, err = cli("run", "--device", good.serial, "--device", bad.serial, "--model", "squeezenet1_1", *FAST,
                         "--out", tmp_path / "reports")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "1 of 2 devices failed" in err and bad.serial in err
    records = records_in(tmp_path / "reports")
    by_serial = {r["device"]["serial"]: r for r in records}
    assert by_serial[good.serial]["status"] == "ok" and by_serial[bad.serial]["status"] == "error"
    assert len({r["run_id"] for r in records}) == 2  # one run folder per device
    assert f"Table 5 view: {good.serial}" in out
    # Each worker's runner ran on its own phone: the two phones' logs both show a launch.
    for phone in (good, bad):
        assert "am start" in phone.phone.shell_log.read_text()
