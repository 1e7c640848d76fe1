"""Evaluate a trained network on a split: metrics, per-source accuracy, ROC, t-SNE and Grad-CAM, written to a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from cmx_bench.data.images import decode_all, list_images
from cmx_bench.evaluate import figures
from cmx_bench.evaluate.features import last_conv_layer, penultimate_features
from cmx_bench.evaluate.metrics import classification_metrics
from cmx_bench.fileio import ensure_writable_folder, write_bytes_atomic, write_json_atomic
from cmx_bench.nets.checkpoint import load_model
from cmx_bench.nets.registry import card_for_trained, get_card
from cmx_bench.data.datasets import CxrDataset


def _predict(model, dataset) -> tuple[np.ndarray, list[torch.Tensor]]:
    batches = [x for x, _ in DataLoader(dataset, batch_size=64)]
    model.eval()
    with torch.no_grad():
        probs = torch.cat([torch.softmax(model(x), dim=1) for x in batches])
    return probs.numpy(), batches


def evaluate_set(model, card, data: Path, split: str | None, skip_bad: bool = False) -> dict:
    """Predict every image of `split` pre-processed for `card` (at the input size the model was trained at)."""
    skipped = [] if skip_bad else None
    items = list_images(data, card.classes, split=split, skipped=skipped)
    kept, images, bad = decode_all(items, skip_bad=skip_bad)
    labels = np.array([card.classes.index(i.label) for i in kept])
    dataset = CxrDataset(images, labels.tolist(), card, augment=False)
    probs, batches = _predict(model, dataset)
    metrics = classification_metrics(probs, labels, card.classes)
    sources = [i.source for i in kept]
    if any(sources):
        predicted = probs.argmax(1)
        metrics["per_source_accuracy"] = {
            s: {"accuracy": float((predicted[m] == labels[m]).mean()), "images": int(m.sum())}
            for s in sorted(set(sources)) for m in [np.array([x == s for x in sources])]}
    metrics["skipped"] = (skipped or []) + bad
    return {"metrics": metrics, "probs": probs, "labels": labels, "batches": batches, "dataset": dataset,
            "images": images, "items": kept}


def evaluate_checkpoint(model_name: str, weights: Path, data: Path, out_dir: Path, *, split: str | None = "test",
                        snapshots: Path | None = None, gradcam_images: int = 4, tsne: bool = True,
                        skip_bad: bool = False) -> dict:
    """Write evaluation.json and figures into out_dir; returns the metrics per set (clean, snapshots)."""
    out_dir = ensure_writable_folder(out_dir, "evaluation folder")
    model, facts = load_model(get_card(model_name), weights)
    card = card_for_trained(get_card(model_name), facts)
    sets = {"clean": evaluate_set(model, card, data, split, skip_bad)}
    if snapshots is not None:
        sets["snapshots"] = evaluate_set(model, card, snapshots, split, skip_bad)
    results = {"model": model_name, "weights": facts, "split": split, "input_size": card.input_size,
               "sets": {name: s["metrics"] for name, s in sets.items()}}
    write_bytes_atomic(out_dir / "roc.png", figures.roc_figure(
        {name: (s["probs"], s["labels"]) for name, s in sets.items()}, card.classes))
    if tsne:
        write_bytes_atomic(out_dir / "tsne.png", figures.tsne_figure(
            {name: (penultimate_features(model, s["batches"]).numpy(), s["labels"]) for name, s in sets.items()},
            card.classes))
    if gradcam_images:
        clean = sets["clean"]
        covid = [i for i, label in enumerate(clean["labels"]) if label == card.classes.index("covid")][:gradcam_images]
        if covid:
            tensors = [clean["dataset"][i][0][None] for i in covid]
            rgb = [np.repeat(((t[0, :1] * torch.tensor(card.std[0]) + card.mean[0]).clamp(0, 1)).permute(1, 2, 0)
                             .numpy(), 3, axis=2).astype(np.float32) for t in tensors]
            titles = [Path(clean["items"][i].path).name for i in covid]
            write_bytes_atomic(out_dir / "gradcam.png", figures.gradcam_figure(
                model, last_conv_layer(model), tensors, rgb, card.classes.index("covid"), titles))
    write_json_atomic(out_dir / "evaluation.json", results)
    return results
