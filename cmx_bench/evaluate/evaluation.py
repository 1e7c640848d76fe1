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
from cmx_bench.evaluate.metrics import bootstrap_intervals, classification_metrics
from cmx_bench.evaluate.predictions import predictions_csv
from cmx_bench.fileio import ensure_writable_folder, write_bytes_atomic, write_json_atomic
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


def _listed(data: Path, card, split: str | None, skip_bad: bool) -> tuple[list, list[str]]:
    """The readable images of one set and what was left out (--skip-bad); a bad image stops here, before any folder
    is made (headers only: a file that fails to decode later stops the evaluation then)."""
    skipped = [] if skip_bad else None
    items = list_images(data, card.classes, split=split, skipped=skipped)
    kept, bad = check_readable(items, skip_bad=skip_bad)
    return kept, (skipped or []) + bad


def evaluate_set(model, card, data: Path, split: str | None, skip_bad: bool = False, *,
                 device: torch.device = torch.device("cpu"), dtype: torch.dtype | None = None,
                 workers: int = 0, listed: tuple[list, list[str]] | None = None) -> dict:
    """Predict every image of `split` pre-processed for `card` (at the input size the model was trained at);
    images are decoded as the loader asks for them, on `device` under autocast to `dtype` when given. `listed`:
    the set's images as _listed found them, when they were checked already."""
    kept, skipped = listed or _listed(data, card, split, skip_bad)
    labels = np.array([card.classes.index(i.label) for i in kept])
    dataset = CxrDataset(ImageFiles([i.path for i in kept]), labels.tolist(), card, augment="none")
    probs, features = _predict(model, dataset, device, dtype, workers)
    metrics = classification_metrics(probs, labels, card.classes)
    sources = [i.source for i in kept]
    if any(sources):
        predicted = probs.argmax(1)
        # Each source's own bootstrap (its images resampled within their classes): a source of 18 images moves far.
        metrics["per_source_accuracy"] = {
            s: {"accuracy": float((predicted[m] == labels[m]).mean()), "images": int(m.sum()),
                "ci95": bootstrap_intervals(probs[m], labels[m], card.classes)["accuracy"]}
            for s in sorted(set(sources)) for m in [np.array([x == s for x in sources])]}
    metrics["skipped"] = skipped
    return {"metrics": metrics, "probs": probs, "labels": labels, "features": features, "dataset": dataset,
            "items": kept}


def evaluate_checkpoint(model_name: str | None, weights: Path, data: Path, out_dir: Path, *,
                        split: str | None = "test", snapshots: Path | None = None, gradcam_images: int = 4,
                        tsne: bool = True, skip_bad: bool = False, trust_pickle: bool = False,
                        device: torch.device = torch.device("cpu"), dtype: torch.dtype | None = None,
                        workers: int = 0) -> dict:
    """Write evaluation.json, predictions.csv and figures into out_dir; returns the metrics per set (clean,
    snapshots). model_name None: the network the checkpoint was trained as."""
    if (Path(out_dir) / "evaluation.json").exists():  # the default --out is shared by every evaluation
        raise OutputError(f"{out_dir} already holds an evaluation; pass another --out, or delete that folder "
                          "to evaluate into it again")
    model, facts = load_model(get_card(model_name) if model_name else None, weights, trust_pickle=trust_pickle)
    model_name = model_name or facts["trained"]["model"]
    card = card_for_trained(get_card(model_name), facts)
    locations = {"clean": data, **({"snapshots": snapshots} if snapshots is not None else {})}
    listed = {name: _listed(location, card, split, skip_bad) for name, location in locations.items()}
    # Made only once the checkpoint and the images have passed their checks, so that refused input leaves no folder.
    made_folder = not Path(out_dir).exists()
    out_dir = ensure_writable_folder(out_dir, "evaluation folder")
    try:
        where = {"device": device, "dtype": dtype, "workers": workers}
        sets = {name: evaluate_set(model, card, location, split, skip_bad, listed=listed[name], **where)
                for name, location in locations.items()}
        results = {"model": model_name, "weights": facts, "split": split, "input_size": card.input_size,
                   "device": str(device), "precision": str(dtype).replace("torch.", "") if dtype else "fp32",
                   "sets": {name: s["metrics"] for name, s in sets.items()}}
        _write_all(out_dir, {**_figures(model, card, sets, gradcam_images, tsne),
                             "predictions.csv": predictions_csv(sets, card.classes).encode("utf-8")}, results)
    except BaseException:
        if made_folder:
            with contextlib.suppress(OSError):  # only when empty: nothing of an evaluation was written
                out_dir.rmdir()
        raise
    return results


def _figures(model, card, sets: dict, gradcam_images: int, tsne: bool) -> dict[str, bytes]:
    """ROC (Figure 4), t-SNE (Figure 3) and Grad-CAM (Figure 5) as PNG bytes, by file name."""
    files = {"roc.png": figures.roc_figure({name: (s["probs"], s["labels"]) for name, s in sets.items()},
                                           card.classes)}
    if tsne:
        files["tsne.png"] = figures.tsne_figure({name: (s["features"], s["labels"]) for name, s in sets.items()},
                                                card.classes)
    clean = sets["clean"]
    covid = [i for i, label in enumerate(clean["labels"]) if label == card.classes.index("covid")][:gradcam_images]
    if covid:
        tensors = [clean["dataset"][i][0][None] for i in covid]
        rgb = [np.repeat(((t[0, :1] * torch.tensor(card.std[0]) + card.mean[0]).clamp(0, 1)).permute(1, 2, 0)
                         .numpy(), 3, axis=2).astype(np.float32) for t in tensors]
        titles = [Path(clean["items"][i].path).name for i in covid]
        files["gradcam.png"] = figures.gradcam_figure(model, last_conv_layer(model), tensors, rgb,
                                                      card.classes.index("covid"), titles)
    return files


def _write_all(folder: Path, files: dict[str, bytes], results: dict) -> None:
    """Each file atomically, then evaluation.json, the mark of a finished evaluation; should one fail (a full disk),
    the files this attempt wrote are removed again."""
    written = []
    try:
        for name, data in files.items():
            written.append(write_bytes_atomic(folder / name, data))
        written.append(write_json_atomic(folder / "evaluation.json", results))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
