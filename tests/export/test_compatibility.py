"""What the device's runtime is known to load: versions, bytecode, operators; one source for the app's runtimes."""

import re

import pytest

from cmx_bench import paths
from cmx_bench.export.compatibility import VersionSkewError, check_artifact_runtime, lite_runtime_table, runtime_problem
from cmx_bench.export.runtime_pins import parse_gradle_properties, pinned_runtimes

LITE = pinned_runtimes()["pytorch_lite"]


def _ptl(bytecode=8, **operators):
    return {"versions": {"torch": "2.14.1"}, "program": {"bytecode_version": bytecode,
                                                        "operators": operators or {"aten::conv2d": 7}}}


def test_pins_come_from_gradle_properties_and_the_app_build_reads_the_same_keys():
    text = (paths.project_root() / "android_runner" / "gradle.properties").read_text()
    values = parse_gradle_properties(text)
    assert pinned_runtimes() == {"executorch": values["executorchAndroidVersion"],
                                 "pytorch_lite": values["pytorchLiteVersion"]}
    build = (paths.project_root() / "android_runner" / "app" / "build.gradle").read_text()
    assert "executorch-android:${executorchAndroidVersion}" in build
    assert "pytorch_android_lite:${pytorchLiteVersion}" in build
    assert '"EXECUTORCH_VERSION", "\\"${executorchAndroidVersion}\\""' in build


def test_the_pinned_executorch_android_matches_the_exporter_and_the_docs():
    pyproject = (paths.project_root() / "pyproject.toml").read_text()
    assert f'"executorch=={pinned_runtimes()["executorch"]}"' in pyproject
    readme = (paths.project_root() / "android_runner" / "README.md").read_text()
    assert f"org.pytorch:executorch-android:{pinned_runtimes()['executorch']}" in readme
    assert f"pytorch_android_lite:{LITE}" in readme


@pytest.mark.parametrize("exporter, device, refused", [("1.5.1", "1.0.0", True), ("1.5.1", "1.5.1", False),
                                                       ("1.0.0", "1.5.1", False), ("1.5.1", "1.5.2", False),
                                                       ("1.6.0.dev20261101", "1.5.1", True)])
def test_executorch_loads_older_programs_only(exporter, device, refused):
    problem = runtime_problem("executorch", {"versions": {"executorch": exporter}}, {"executorch": device})
    assert (problem is not None) == refused
    if refused:
        assert exporter in problem and device in problem


def test_the_pinned_lite_runtime_table_was_probed_and_holds_the_students_operators():
    table = lite_runtime_table(LITE)
    assert table["bytecode_versions"] == [min(table["bytecode_versions_probed"]), max(table["bytecode_versions_probed"])]
    assert {"aten::conv2d", "aten::softmax.int", "aten::adaptive_avg_pool2d"} <= set(table["operators"])


def test_lite_checks_bytecode_operators_and_their_arguments():
    high = lite_runtime_table(LITE)["bytecode_versions"][1]
    assert runtime_problem("pytorch_lite", _ptl(), {"pytorch_lite": LITE}) is None
    assert f"bytecode version {high + 1}" in runtime_problem("pytorch_lite", _ptl(high + 1), {"pytorch_lite": LITE})
    missing = runtime_problem("pytorch_lite", _ptl(**{"aten::conv2d": 7, "aten::brand_new_op": 2}), {"pytorch_lite": LITE})
    assert "aten::brand_new_op" in missing
    newer = runtime_problem("pytorch_lite", _ptl(**{"aten::conv2d": 99}), {"pytorch_lite": LITE})
    assert "more arguments" in newer and "aten::conv2d" in newer
    unknown = runtime_problem("pytorch_lite", _ptl(), {"pytorch_lite": "0.9.9"})
    assert "no record" in unknown
    # The host runner's lite interpreter is the exporter's own torch: nothing to check.
    assert runtime_problem("pytorch_lite", _ptl(high + 5), {"pytorch_lite": "2.14.1+cpu"}) is None


def test_the_refusal_is_one_line_with_both_versions_and_the_way_out():
    with pytest.raises(VersionSkewError) as caught:
        check_artifact_runtime("shufflenet_v2_x1_0 pte on pixel2", "executorch", {"versions": {"executorch": "1.5.1"}},
                               "pixel2", {"executorch": "1.0.0"}, allow_skew=False)
    message = str(caught.value)
    assert "\n" not in message and re.search(r"1\.5\.1.*1\.0\.0", message) and "--allow-version-skew" in message
    block = check_artifact_runtime("x", "executorch", {"versions": {"executorch": "1.5.1"}}, "pixel2",
                                   {"executorch": "1.0.0"}, allow_skew=True)
    assert block["skew_allowed"] and not block["compatible"] and "1.0.0" in block["problem"]


def test_a_ptl_beyond_the_pinned_lite_runtime_is_back_ported_at_export_and_keeps_parity(tmp_path, monkeypatch):
    import torch.jit.mobile as mobile

    from cmx_bench.export import compatibility, service

    written = 8  # what torch 2.14.1 writes; pretend the pinned runtime reads one version less
    table = dict(lite_runtime_table(LITE), bytecode_versions=[4, written - 1])
    monkeypatch.setattr(service, "lite_runtime_table", lambda version: table)
    [(path, manifest)] = service.export_to_folder("squeezenet1_1", ["ptl"], tmp_path)
    assert manifest["backported_from_bytecode"] == written
    assert manifest["program"]["bytecode_version"] == written - 1 == mobile._get_model_bytecode_version(str(path))
    assert manifest["parity"]["passed"] and manifest["parity"]["max_abs_delta_prob"] <= 1e-4
    monkeypatch.setattr(compatibility, "lite_runtime_table", lambda version: table)
    assert runtime_problem("pytorch_lite", manifest, {"pytorch_lite": LITE}) is None


def test_an_export_within_the_pinned_range_is_left_as_written(tmp_path):
    from cmx_bench.export.service import export_to_folder

    [(_, manifest)] = export_to_folder("squeezenet1_1", ["ptl"], tmp_path)
    assert manifest["backported_from_bytecode"] is None
    assert runtime_problem("pytorch_lite", manifest, {"pytorch_lite": LITE}) is None
