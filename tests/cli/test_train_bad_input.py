"""Bad training data through the CLI: one line naming the file, or with --skip-bad a warning and a count."""

import numpy as np
from PIL import Image

from cmx_bench.data.phantoms import write_phantom_folder


def test_bad_images_stop_training_or_are_skipped(cli, tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=6, size=72, seed=4)
    (data / "covid" / "notes.png").write_text("not an image")
    Image.fromarray(np.full((72, 72), 50000, dtype=np.uint16)).save(data / "normal" / "deep.png")
    args = ["train", "ms", "--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1",
            "--out", tmp_path / "ms"]
    code, _, err = cli(*args)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "notes.png" in err or "deep.png" in err
    assert "Traceback" not in err and not (tmp_path / "ms" / "best.pth").exists()
    code, out, err = cli(*args, "--skip-bad")
    assert code == 0, err
    assert "skipped 2 bad input(s)" in out and (tmp_path / "ms" / "best.pth").is_file()


def test_manifest_row_with_unknown_label_is_named(cli, tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=48, seed=4)
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label,patient_id\n" + "".join(
        f"{p.relative_to(tmp_path)},{p.parent.name},{p.stem}\n" for p in sorted(data.rglob("*.png")))
        + "data/covid/covid_0000.png,tuberculosis,x\n")
    code, _, err = cli("train", "rf", "--data", manifest, "--preset", "tiny", "--out", tmp_path / "rf")
    assert code == 1 and "row 11: label 'tuberculosis'" in err and len(err.strip().splitlines()) == 1


def test_an_image_that_fails_to_decode_in_a_loader_worker_is_one_line(cli, tmp_path):
    data = write_phantom_folder(tmp_path / "data", per_class=6, size=72, seed=4)
    for broken in (data / "normal").glob("*.png"):
        broken.write_bytes(broken.read_bytes()[:200])  # the header reads, the pixels do not
    code, _, err = cli("train", "ms", "--model", "squeezenet1_1", "--data", data, "--preset", "tiny", "--epochs", "1",
                       "--workers", "2", "--out", tmp_path / "ms")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "normal/normal_0" in err and "Traceback" not in err and "DataError" not in err


def test_evaluate_names_an_image_that_fails_to_decode_in_a_loader_worker(cli, tmp_path, squeezenet_checkpoint):
    data = write_phantom_folder(tmp_path / "data", per_class=3, size=72, seed=4)
    broken = data / "pneumonia" / "pneumonia_0001.png"
    broken.write_bytes(broken.read_bytes()[:200])
    code, _, err = cli("evaluate", "-m", "squeezenet1_1", "-w", squeezenet_checkpoint, "--data", data, "--split",
                       "all", "--workers", "2", "--gradcam", "0", "--out", tmp_path / "eval")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "pneumonia_0001.png" in err and "Traceback" not in err
