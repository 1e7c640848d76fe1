"""The runner APK's version: from Gradle's output-metadata.json or a stand-in; a wrong or missing APK is refused."""

import json

from cmx_bench.devices.android.runner_app import VERSION_NAME, apk_version
from cmx_bench.devices.virtual.launch import standin_runner_apk


def test_version_from_gradle_output_metadata_and_from_a_standin(tmp_path):
    apk = tmp_path / "debug" / "app-debug.apk"
    apk.parent.mkdir()
    apk.write_bytes(b"PK not really")
    (apk.parent / "output-metadata.json").write_text(json.dumps({
        "version": 3, "artifactType": {"type": "APK", "kind": "Directory"}, "applicationId": "org.cmxbench.runner",
        "variantName": "debug", "elements": [{"type": "SINGLE", "filters": [], "versionCode": 4,
                                              "versionName": "0.4.0", "outputFile": "app-debug.apk"}]}))
    assert apk_version(apk) == "0.4.0"
    assert apk_version(standin_runner_apk(tmp_path / "standin", "9.9.9")) == "9.9.9"
    assert apk_version(tmp_path / "missing.apk") is None


def test_a_phone_without_the_runner_needs_an_apk_of_this_version(cli, virtual_phone, tmp_path):
    virtual_phone(preinstall_runner=False)
    old = standin_runner_apk(tmp_path / "old", "0.0.1")
    code, _, err = cli("run", "--device", "pixel2", "--model", "squeezenet1_1", "--apk", old, "--out", tmp_path / "r")
    assert code == 1 and "is runner version 0.0.1" in err and VERSION_NAME in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("run", "--device", "pixel2", "--model", "squeezenet1_1", "--apk", tmp_path / "none.apk",
                       "--out", tmp_path / "r")
    assert code == 1 and "pass --apk PATH" in err
