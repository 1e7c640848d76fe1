import csv

import numpy as np
from PIL import Image

from cmx_bench.data.images import LabelledImage, list_images
from cmx_bench.data.prepare import from_covid_chestxray, from_kermany, prepare_manifest
from cmx_bench.data.split import patient_split


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
