import json

import pytest

from cmx_bench.errors import ArtifactError
from cmx_bench.export.formats import FORMATS
from cmx_bench.export.manifest import manifest_path, verify_artifact
from cmx_bench.export.service import export_to_folder
from cmx_bench.fileio import sha256_file
from cmx_bench.nets.registry import STUDENTS


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every student in every format, exported once for this module (the slow part of the suite)."""
    out = tmp_path_factory.mktemp("exported")
    return {name: export_to_folder(name, list(FORMATS), out / name) for name in STUDENTS}


@pytest.mark.parametrize("name", STUDENTS)
def test_each_student_exports_in_each_format_with_passing_parity(exported, name):
    artifacts = exported[name]
    assert {manifest["format"] for _, manifest in artifacts} == set(FORMATS)
    for path, manifest in artifacts:
        assert manifest["sha256"] == sha256_file(path)
        assert json.loads(manifest_path(path).read_text()) == manifest
        parity = manifest["parity"]
        assert parity["passed"] is True
        if manifest["quantization"] == "fp32":
            assert parity["max_abs_delta_prob"] <= 1e-4 and parity["argmax_agreement"] == 1.0
        assert manifest["model"]["classes"] == ["covid", "normal", "pneumonia"]
        assert manifest["weights"]["source"] == "random_init"
        assert manifest["versions"]["torch"].startswith("2.")


def test_changed_artifact_is_refused(exported, tmp_path):
    path, manifest = exported["squeezenet1_1"][0]
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes() + b"tampered")
    manifest_path(copy).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="changed since export"):
        verify_artifact(copy)


def test_failed_parity_writes_nothing(tmp_path, monkeypatch):
    from cmx_bench.export import service

    monkeypatch.setattr(service, "check_parity", lambda *a, **k: {"passed": False, "max_abs_delta_prob": 0.5,
                                                                  "argmax_agreement": 0.1})
    with pytest.raises(ArtifactError, match="failed its parity check"):
        export_to_folder("squeezenet1_1", ["ptl"], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_int8_calibration_from_user_images(phantom_dir, tmp_path):
    [(path, manifest)] = export_to_folder("shufflenet_v2_x1_0", ["pte-int8"], tmp_path, calibration_dir=phantom_dir)
    assert manifest["calibration"].startswith("12 images from")


def test_skip_bad_leaves_an_unreadable_calibration_image_out_and_says_so(cli, tmp_path):
    from cmx_bench.data.phantoms import write_phantom_folder

    images = write_phantom_folder(tmp_path / "calibration", per_class=1, size=48, seed=4)
    (images / "covid" / "broken.png").write_bytes(b"not a png at all")
    args = ("export", "-m", "squeezenet1_1", "-f", "pte-int8", "--calibration", images)
    code, _, err = cli(*args, "--out", tmp_path / "refused")
    assert code == 1 and "broken.png" in err and "--skip-bad" in err
    code, _, err = cli(*args, "--skip-bad", "--out", tmp_path / "out")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "squeezenet1_1-int8.pte.manifest.json").read_text())
    assert manifest["calibration"] == f"3 images from {images} (1 unreadable left out)"
    assert manifest["parity"]["argmax_agreement"] >= 0.9
