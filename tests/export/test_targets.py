"""Lowering targets: named, the host's read from torch's CPU dispatch, a phone's from its ABI, bad names refused."""

import json

import pytest

from cmx_bench.errors import UnknownNameError
from cmx_bench.export import choices, lowering, targets


@pytest.mark.parametrize("machine, capability, expected", [
    ("x86_64", "AVX512", "x86-64-avx512"), ("x86_64", "AVX2", "x86-64-avx2"), ("AMD64", "DEFAULT", "x86-64-avx2"),
    ("aarch64", "DEFAULT", "arm"), ("arm64", "DEFAULT", "arm")])
def test_the_host_target_follows_its_machine_and_instruction_set(monkeypatch, machine, capability, expected):
    import platform

    import torch

    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    assert targets.host_target() == expected


@pytest.mark.parametrize("abi, expected", [("arm64-v8a", "arm"), ("armeabi-v7a", "arm"), ("x86_64", "x86-64-avx2"),
                                           (None, "arm")])
def test_a_phone_target_follows_its_abi(abi, expected):
    assert targets.device_target({"kind": "android", "abi": abi}) == expected


def test_the_local_device_is_the_host():
    assert targets.device_target({"kind": "local", "abi": "x86_64"}) == targets.host_target()
    assert targets.resolve_target("host") == targets.host_target() in targets.TARGETS


def test_an_unknown_target_is_a_one_line_error_naming_the_choices():
    with pytest.raises(UnknownNameError, match="unknown lowering target 'mips': use host or one of x86-64-avx2"):
        targets.resolve_target("mips")


def test_every_target_has_its_fp32_passes_and_int8_skips_the_same_everywhere():
    assert lowering.skipped_passes("x86-64-avx2", "fp32") == ()
    for target in targets.TARGETS:
        assert lowering.skipped_passes(target, "int8") == choices.SKIPPED_INT8
    assert "im2col_convolutions" in lowering.skipped_passes("arm", "fp32")
    assert "im2col_convolutions" in lowering.skipped_passes("x86-64-avx512", "fp32")


def test_export_lowers_for_the_target_it_is_given_and_says_so(cli, tmp_path):
    code, out, err = cli("export", "-m", "squeezenet1_1", "-f", "pte", "--target", "arm", "--out", tmp_path / "arm")
    assert code == 0, err
    assert "lowering cmx for arm" in " ".join(out.split())  # the console may wrap the line
    manifest = json.loads((tmp_path / "arm" / "squeezenet1_1.pte.manifest.json").read_text())
    assert manifest["lowering"]["target"] == "arm" and manifest["lowering"]["passes"]["im2col_convolutions"] == 0
    code, out, err = cli("export", "-m", "squeezenet1_1", "-f", "pte", "--target", "mips", "--out", tmp_path / "bad")
    assert code == 1 and "unknown lowering target 'mips'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
