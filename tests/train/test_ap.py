"""AP pre-training on the NIH ChestX-ray14 layout (written by the test), then RF initialised from it."""

import csv

import numpy as np
import torch
from PIL import Image

from cmx_bench.data.chestxray14 import DISEASES, read_chestxray14
from cmx_bench.data.phantoms import phantom, write_phantom_folder
from cmx_bench.nets.checkpoint import read_state_dict
from cmx_bench.train.players import train_ap, train_classifier
from cmx_bench.train.presets import preset


def _nih_folder(root):
    rows = []
    for index in range(24):
        findings = ["No Finding", "Effusion|Pneumonia", "Mass", "Cardiomegaly|Effusion"][index % 4]
        name = f"{index:08d}_000.png"
        folder = root / f"images_{1 + index // 12:03d}" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(phantom(["normal", "pneumonia", "covid", "normal"][index % 4], 72, seed=index)).save(folder / name)
        rows.append([name, findings, index % 10, index])
    rows.append(["missing_000.png", "Mass", 99, 99])  # listed but not downloaded: skipped
    with open(root / "Data_Entry_2017.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Image Index", "Finding Labels", "Follow-up #", "Patient ID"])
        writer.writerows(rows)
    return root


def test_chestxray14_labels_are_multi_hot(tmp_path):
    items = read_chestxray14(_nih_folder(tmp_path))
    assert len(items) == 24
    by_name = {i.path.name: i.targets for i in items}
    expected = tuple(float(d in ("Effusion", "Pneumonia")) for d in DISEASES)
    assert by_name["00000001_000.png"] == expected and sum(by_name["00000000_000.png"]) == 0


def test_ap_pretraining_then_rf_transfer(tmp_path):
    summary = train_ap(_nih_folder(tmp_path / "nih"), tmp_path / "ap", preset("tiny", epochs=1))
    assert summary["history"][0]["val_score"] >= 0.0 and (tmp_path / "ap" / "best.pth").is_file()
    assert 0.0 < summary["history"][0]["val_loss"] < 10.0  # the eight diseases' binary cross-entropy
    ap_state = read_state_dict(tmp_path / "ap" / "best.pth")
    data = write_phantom_folder(tmp_path / "phantoms", per_class=8, size=72, seed=2)
    rf = train_classifier("densenet121", data, tmp_path / "rf", preset("tiny", epochs=1, lr=0.0),
                          init=str(tmp_path / "ap" / "best.pth"))
    rf_state = read_state_dict(rf["checkpoint"])
    # lr 0: RF's trunk, shared layer and pneumonia head are exactly AP's, except BatchNorm running statistics,
    # which update_bn recomputes on the RF data.
    for name in ("features.conv0.weight", "shared.weight", "heads.pneumonia.weight", "heads.pneumonia.bias"):
        assert torch.equal(rf_state[name], ap_state[name]), name
    assert not torch.equal(rf_state["heads.covid.weight"], ap_state["heads.atelectasis.weight"])
    assert np.isfinite(rf["history"][0]["train_loss"])
