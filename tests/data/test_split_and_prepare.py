import csv

import numpy as np
import pytest
from PIL import Image

from cmx_bench.data.images import LabelledImage, list_images
from cmx_bench.data.prepare import from_covid_chestxray, from_kermany, prepare_manifest
from cmx_bench.data.split import parse_split_ratio, patient_split
from cmx_bench.errors import DataError


def test_split_keeps_patients_whole_and_follows_7_1_2():
    rng = np.random.default_rng(0)
    items = []
    for label in ("covid", "normal", "pneumonia"):
        for patient in range(60):
            for image in range(int(rng.integers(1, 4))):
                items.append(LabelledImage(f"{label}/{patient}_{image}.png", label, f"{label}-{patient}"))
    parts = patient_split(items, seed=3)
    owners = {}
    for name, images in parts.items():
        for item in images:
            assert owners.setdefault(item.patient_id, name) == name
    for label in ("covid", "normal", "pneumonia"):
        total = sum(1 for i in items if i.label == label)
        share = {n: sum(1 for i in images if i.label == label) / total for n, images in parts.items()}
        assert abs(share["train"] - 0.7) < 0.06 and abs(share["val"] - 0.1) < 0.05 and abs(share["test"] - 0.2) < 0.06


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)


def test_public_layouts_become_a_split_manifest(tmp_path):
    ieee = tmp_path / "covid-chestxray-dataset"
    rows = [("p1", "Pneumonia/Viral/COVID-19", "PA", "X-ray", "a.jpg"), ("p1", "Pneumonia/Viral/COVID-19", "AP", "X-ray", "b.jpg"),
            ("p2", "Pneumonia/Bacterial/Streptococcus", "PA", "X-ray", "c.jpg"), ("p3", "COVID-19", "L", "X-ray", "d.jpg"),
            ("p4", "COVID-19", "PA", "CT", "e.jpg"), ("p5", "No Finding", "PA", "X-ray", "f.jpg")]
    ieee.mkdir()
    with open(ieee / "metadata.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patientid", "finding", "view", "modality", "folder", "filename"])
        for patient, finding, view, modality, name in rows:
            writer.writerow([patient, finding, view, modality, "images", name])
            _image(ieee / "images" / name)
    labels = sorted((i.label, i.patient_id) for i in from_covid_chestxray(ieee))
    assert labels == [("covid", "ieee-p1"), ("covid", "ieee-p1"), ("normal", "ieee-p5"), ("pneumonia", "ieee-p2")]
    kermany = tmp_path / "chest_xray"
    for name in ("person1_bacteria_1.jpeg", "person1_virus_7.jpeg", "person2_bacteria_3.jpeg"):
        _image(kermany / "train" / "PNEUMONIA" / name)
    for name in ("IM-0115-0001.jpeg", "NORMAL2-IM-1427-0001.jpeg"):
        _image(kermany / "test" / "NORMAL" / name)
    assert sorted({i.patient_id for i in from_kermany(kermany)}) == [
        "kermany-IM-0115", "kermany-NORMAL2-IM-1427", "kermany-person1", "kermany-person2"]
    out = tmp_path / "manifest.csv"
    prepare_manifest(out, covid_chestxray=ieee, kermany=kermany)
    items = list_images(out, ("covid", "normal", "pneumonia"))
    assert len(items) == 9 and all(i.split in ("train", "val", "test") for i in items)
    splits_of_person1 = {i.split for i in items if i.patient_id == "kermany-person1"}
    assert len(splits_of_person1) == 1


def test_split_ratio_is_read_as_fractions_of_the_whole():
    assert parse_split_ratio("7:1:2") == pytest.approx((0.7, 0.1, 0.2))
    assert parse_split_ratio("3:1:1") == pytest.approx((0.6, 0.2, 0.2))
    for bad in ("7:1", "7:0:3", "a:b:c", "7:-1:4", "7:1:2:1", "inf:1:1"):
        with pytest.raises(DataError, match="--split 7:1:2"):
            parse_split_ratio(bad)


def test_prepare_takes_another_split_ratio(cli, tmp_path):
    for label in ("covid", "normal", "pneumonia"):
        for patient in range(20):
            _image(tmp_path / "folders" / label / f"{patient}.png")
    out = tmp_path / "split.csv"
    code, _, err = cli("data", "prepare", "--manifest", tmp_path / "folders", "--split", "4:3:3", "--out", out)
    assert code == 0, err
    items = list_images(out, ("covid", "normal", "pneumonia"))
    for label in ("covid", "normal", "pneumonia"):
        counts = {part: sum(1 for i in items if i.label == label and i.split == part) for part in ("train", "val", "test")}
        assert counts == {"train": 8, "val": 6, "test": 6}, (label, counts)


def test_a_bad_split_ratio_is_one_line_and_writes_nothing(cli, tmp_path):
    for label in ("covid", "normal", "pneumonia"):
        _image(tmp_path / "folders" / label / "0.png")
    code, _, err = cli("data", "prepare", "--manifest", tmp_path / "folders", "--split", "7:1", "--out",
                       tmp_path / "split.csv")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "'7:1'" in err, err
    assert not (tmp_path / "split.csv").exists()


def test_numbered_images_in_two_class_folders_are_two_patients(tmp_path):
    for label in ("covid", "normal", "pneumonia"):
        _image(tmp_path / "folders" / label / "1.png")
    items = list_images(tmp_path / "folders", ("covid", "normal", "pneumonia"))
    assert len({i.patient_id for i in items}) == 3


def test_a_patient_with_images_of_two_classes_stays_in_one_part():
    items = [LabelledImage(f"{label}/{n}.png", label, f"{label}-{n}") for label in ("covid", "normal") for n in range(30)]
    follow_ups = [LabelledImage(f"p7/{n}.png", label, "p7") for n, label in enumerate(("covid", "covid", "normal"))]
    for seed in range(5):
        parts = patient_split(items + follow_ups, seed=seed)
        assert sum(1 for images in parts.values() for i in images if i.patient_id == "p7") == 3
        assert len({name for name, images in parts.items() for i in images if i.patient_id == "p7"}) == 1
