"""Evaluate a trained network on a split: metrics, per-source accuracy, per-image predictions, ROC, t-SNE and
Grad-CAM, written to a folder."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from cmx_bench.data.images import check_readable, list_images
from cmx_bench.evaluate import figures
from cmx_bench.evaluate.features import last_conv_layer, penultimate_features
from cmx_bench.evaluate.metrics import classification_metrics
from cmx_bench.evaluate.predictions import predictions_csv
from cmx_bench.fileio import ensure_writable_folder, write_bytes_atomic, write_json_atomic, write_text_atomic
from cmx_bench.nets.checkpoint import load_model
from cmx_bench.nets.registry import card_for_trained, get_card
from cmx_bench.data.datasets import CxrDataset, ImageFiles, one_line
from cmx_bench.errors import DataError, OutputError


def _predict(model, dataset, device: torch.device, dtype: torch.dtype | None, workers: int):
    """Probabilities and penultimate features (for t-SNE) in one streamed pass over the set."""
    autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    model.eval().to(device)
    probs = []
    try:
        with penultimate_features(model) as features, torch.no_grad(), autocast:
            for x, _ in DataLoader(dataset, batch_size=64, num_workers=workers):
                probs.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu())
    except DataError as exc:
        raise one_line(exc) from None
    finally:
        model.to("cpu")
    return torch.cat(probs).numpy(), torch.cat(features).numpy()


def evaluate_set(model, card, data: Path, split: str | None, skip_bad: bool = False, *,
                 device: torch.device = torch.device("cpu"), dtype: torch.dtype | None = None,
                 workers: int = 0) -> dict:
    """Predict every image of `split` pre-processed for `card` (at the input size the model was trained at);
    images are decoded as the loader asks for them, on `device` under autocast to `dtype` when given."""
    skipped = [] if skip_bad else None
    items = list_images(data, card.classes, split=split, skipped=skipped)
    kept, bad = check_readable(items, skip_bad=skip_bad)
    labels = np.array([card.classes.index(i.label) for i in kept])
    dataset = CxrDataset(ImageFiles([i.path for i in kept]), labels.tolist(), card, augment="none")
    probs, features = _predict(model, dataset, device, dtype, workers)
    metrics = classification_metrics(probs, labels, card.classes)
    sources = [i.source for i in kept]
    if any(sources):
        predicted = probs.argmax(1)
        metrics["per_source_accuracy"] = {
            s: {"accuracy": float((predicted[m] == labels[m]).mean()), "images": int(m.sum())}
            for s in sorted(set(sources)) for m in [np.array([x == s for x in sources])]}
    metrics["skipped"] = (skipped or []) + bad
    return {"metrics": metrics, "probs": probs, "labels": labels, "features": features, "dataset": dataset,
            "items": kept}


def evaluate_checkpoint(model_name: str | None, weights: Path, data: Path, out_dir: Path, *,
                        split: str | None = "test", snapshots: Path | None = None, gradcam_images: int = 4,
                        tsne: bool = True, skip_bad: bool = False, device: torch.device = torch.device("cpu"),
                        dtype: torch.dtype | None = None, workers: int = 0) -> dict:
    """Write evaluation.json, predictions.csv and figures into out_dir; returns the metrics per set (clean,
    snapshots). model_name None: the network the checkpoint was trained as."""
    if (Path(out_dir) / "evaluation.json").exists():  # the default --out is shared by every evaluation
        raise OutputError(f"{out_dir} already holds an evaluation; pass another --out, or delete that folder "
                          "to evaluate into it again")
    # Loaded before the folder is made, so that a bad checkpoint leaves no empty folder behind.
    model, facts = load_model(get_card(model_name) if model_name else None, weights)
    model_name = model_name or facts["trained"]["model"]
    out_dir = ensure_writable_folder(out_dir, "evaluation folder")
    card = card_for_trained(get_card(model_name), facts)
    where = {"device": device, "dtype": dtype, "workers": workers}
    sets = {"clean": evaluate_set(model, card, data, split, skip_bad, **where)}
    if snapshots is not None:
        sets["snapshots"] = evaluate_set(model, card, snapshots, split, skip_bad, **where)
    results = {"model": model_name, "weights": facts, "split": split, "input_size": card.input_size,
               "device": str(device), "precision": str(dtype).replace("torch.", "") if dtype else "fp32",
               "sets": {name: s["metrics"] for name, s in sets.items()}}
    write_bytes_atomic(out_dir / "roc.png", figures.roc_figure(
        {name: (s["probs"], s["labels"]) for name, s in sets.items()}, card.classes))
    if tsne:
        write_bytes_atomic(out_dir / "tsne.png", figures.tsne_figure(
            {name: (s["features"], s["labels"]) for name, s in sets.items()},
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
    write_text_atomic(out_dir / "predictions.csv", predictions_csv(sets, card.classes))
    write_json_atomic(out_dir / "evaluation.json", results)
    return results
