"""The three players: AP pre-training (multi-label), RF fine-tuning from AP, MS distillation from RF (Eq. 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cmx_bench.data.datasets import CachedImages, CxrDataset, ImageFiles
from cmx_bench.data.images import LabelledImage, check_readable, list_images
from cmx_bench.data.split import patient_split
from cmx_bench.errors import CheckpointError, CmxError
from cmx_bench.nets.checkpoint import load_model, read_state_dict
from cmx_bench.nets.cxr_densenet import ap_network, transfer_ap_to_rf
from cmx_bench.nets.heads import use_cosine_heads
from cmx_bench.nets.registry import build_model, card_at_input_size, get_card
from cmx_bench.train.loops import TrainRunOptions, fit
from cmx_bench.train.presets import TrainConfig
from cmx_bench.train.sampling import balanced_weights

CLASSES = ("covid", "normal", "pneumonia")


@dataclass
class SplitData:
    train: CxrDataset
    val: CxrDataset
    skipped: list[str]
    counts: dict[str, int]
    train_items: list[LabelledImage]  # one per training sample, in the training set's order


def image_source(items: list[LabelledImage], cache=None):
    """Where a set's pixels come from: the decoded-image cache when one is given, else the files themselves."""
    paths = [item.path for item in items]
    return CachedImages(cache, paths) if cache is not None else ImageFiles(paths)


def _parts(items: list[LabelledImage], seed: int) -> dict[str, list[LabelledImage]]:
    if not any(item.split for item in items):
        return patient_split(items, seed=seed)
    return {name: [i for i in items if i.split == name] for name in ("train", "val", "test")}


def load_split_data(data: Path, config: TrainConfig, card, *, skip_bad: bool = False, cache: Path | None = None,
                    snapshots: Path | None = None) -> SplitData:
    """Train and validation sets from a manifest with a split column, or split by patient (7:1:2) on the fly.

    Images are decoded when the loader asks for them (or read from `cache`, see data/cache.py); with
    `snapshots` (a manifest from 'data snapshots'), the training set also holds each image's snapshot twin.
    """
    from cmx_bench.data.cache import open_cache

    skipped: list[str] = [] if skip_bad else None
    items = list_images(data, CLASSES, skipped=skipped)
    parts = _parts(items, config.seed)
    card = card_at_input_size(card, config.input_size)
    opened = open_cache(cache, Path(data), config.input_size, parts["train"] + parts["val"]) if cache else None
    sets, bad, train_items = {}, [], []
    for name in ("train", "val"):
        if not parts[name]:
            raise CmxError(f"data {data} has no '{name}' images; prepare a split with 'cmx-bench data prepare'")
        kept, dropped = check_readable(parts[name], skip_bad=skip_bad)
        bad += dropped
        if name == "train":
            train_items = list(kept)
        sets[name] = CxrDataset(image_source(kept, opened), [CLASSES.index(i.label) for i in kept], card,
                                augment=config.augment if name == "train" else "none")
    if snapshots is not None:
        twins = [i for i in list_images(snapshots, CLASSES, skipped=skipped) if i.split == "train"]
        if not twins:
            raise CmxError(f"snapshots {snapshots} has no 'train' images; make them with 'cmx-bench data snapshots' "
                           "from a manifest with a split column")
        kept, dropped = check_readable(twins, skip_bad=skip_bad)
        bad += dropped
        train_items += kept
        twin_set = CxrDataset(ImageFiles([i.path for i in kept]), [CLASSES.index(i.label) for i in kept], card,
                              augment=config.augment)
        sets["train"] = torch.utils.data.ConcatDataset([sets["train"], twin_set])
    counts = {k: len(v) for k, v in parts.items()}
    if snapshots is not None:
        counts["train_snapshots"] = len(sets["train"]) - len(sets["train"].datasets[0])
    return SplitData(sets["train"], sets["val"], (skipped or []) + bad, counts, train_items)


def sampling_weights(items: list[LabelledImage], balance: str) -> tuple[list[float] | None, dict[str, int]]:
    """Per-sample weights for `--balance` (train/sampling.py) and the groups' sizes; none for 'none'."""
    if balance == "none":
        return None, {}
    if balance == "source" and not all(item.source for item in items):
        raise CmxError("--balance source needs a manifest with a 'source' column for every training image; use "
                       "--balance label, or add the column")
    labels = [item.label for item in items]
    return balanced_weights(labels, [item.source for item in items] if balance == "source" else None)


def imagenet_init(builder: str, model: torch.nn.Module) -> int:
    """torchvision's ImageNet weights through its weights API (downloaded once into the torch hub cache, hash
    checked, TORCH_HOME honoured); loads every tensor whose name and shape match; returns how many."""
    import urllib.error

    import torchvision

    weights = torchvision.models.get_model_weights(builder).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        # Built through torchvision so that its own key fix-ups (DenseNet's old names) apply.
        reference = torchvision.models.get_model(builder, weights=weights)
    except (urllib.error.URLError, OSError, ConnectionError) as exc:
        raise CmxError(f"--init imagenet: could not download {weights.url} ({str(exc)[:80]}); offline, copy that "
                       f"file to {cached} and run again") from exc
    except RuntimeError as exc:  # a damaged download: torch.hub's hash check or the loader refused it
        raise CmxError(f"--init imagenet: {cached} is damaged ({str(exc).splitlines()[0][:80]}); delete it and "
                       "run again") from exc
    own = model.state_dict()
    compatible = {k: v for k, v in reference.state_dict().items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(compatible, strict=False)
    return len(compatible)


DENSENET_TRUNKS = ("densenet121", "ap_densenet121")  # networks whose features.* are torchvision's DenseNet-121


def _initialise(model_name: str, model, init: str | None, card, *, resume: bool = False,
                trust_pickle: bool = False) -> dict:
    """Load --init into `model` (ImageNet, an AP checkpoint into the RF network, or a checkpoint of the same
    network) and return what was loaded, for the run's meta; nothing when resuming, as last.pth holds the weights."""
    if resume:
        return {}
    if init is None:
        return {"init": "random"}
    if init == "imagenet":
        densenet = model_name in DENSENET_TRUNKS
        loaded = imagenet_init("densenet121" if densenet else card.torchvision_builder,
                               _densenet_trunk(model) if densenet else model)
        return {"init": "imagenet", "imagenet_tensors": loaded}
    return _load_init_checkpoint(model_name, model, init, card, trust_pickle)


def _load_init_checkpoint(model_name: str, model, init: str, card, trust_pickle: bool = False) -> dict:
    if model_name == "ap_densenet121":
        model.load_state_dict(read_state_dict(init, trust_pickle=trust_pickle))
        return {"init": str(init)}
    if model_name == "densenet121":
        # An AP checkpoint: transfer trunk, shared FC and pneumonia head (Section 3.3).
        ap = ap_network()
        try:
            ap.load_state_dict(read_state_dict(init, trust_pickle=trust_pickle), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"--init {init} is not an AP network checkpoint (train one with 'cmx-bench "
                                  "train ap')") from exc
        return {"init": f"AP {init}", "transferred": len(transfer_ap_to_rf(ap, model))}
    loaded, _ = load_model(card, init, trust_pickle=trust_pickle)
    model.load_state_dict(loaded.state_dict())
    return {"init": str(init)}


def _densenet_trunk(network):
    class Trunk(torch.nn.Module):  # torchvision's names: features.* match the AP and RF trunks'
        def __init__(self):
            super().__init__()
            self.features = network.features
    return Trunk()


def train_classifier(model_name: str, data: Path, out_dir: Path, config: TrainConfig, *, teacher: Path | None = None,
                     init: str | None = None, skip_bad: bool = False, cache: Path | None = None,
                     snapshots: Path | None = None, run: TrainRunOptions | None = None,
                     trust_pickle: bool = False) -> dict:
    """`train rf` (model densenet121) and `train ms` (a student, with --teacher for Eq. 2 distillation)."""
    card = get_card(model_name)
    split = load_split_data(data, config, card, skip_bad=skip_bad, cache=cache, snapshots=snapshots)
    torch.manual_seed(config.seed)
    model = build_model(card)
    init_facts = _initialise(model_name, model, init, card, resume=bool(run and run.resume),
                             trust_pickle=trust_pickle)
    if config.loss == "arcface":
        use_cosine_heads(model, config.arcface_scale)
    teacher_model = None
    if teacher is not None:
        teacher_model, _ = load_model(get_card("densenet121"), teacher, trust_pickle=trust_pickle)
    meta = {"player": "rf" if model_name == "densenet121" else "ms", "model": model_name, "classes": list(CLASSES),
            "head": "cosine" if config.loss == "arcface" else "linear", "arcface_scale": config.arcface_scale,
            "input_size": config.input_size, "data": str(data), "teacher": str(teacher) if teacher else None,
            "cache": str(cache) if cache else None, "snapshots": str(snapshots) if snapshots else None,
            "counts": split.counts, **init_facts}
    weights, groups = sampling_weights(split.train_items, config.balance)
    if groups:
        meta["balance_groups"] = groups
    summary = fit(model, split.train, split.val, config, out_dir, meta, teacher=teacher_model, run=run,
                  sample_weights=weights)
    summary.update(skipped=split.skipped, counts=split.counts)
    return summary


def mean_auroc_score(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean AUROC over the diseases present in the validation set (the AP network's selection score)."""
    from sklearn.metrics import roc_auc_score

    scores, targets = torch.sigmoid(logits).numpy(), targets.numpy()
    values = [roc_auc_score(targets[:, d], scores[:, d]) for d in range(targets.shape[1])
              if 0 < targets[:, d].sum() < len(targets)]
    return float(sum(values) / len(values)) if values else 0.0


def multilabel_bce_value(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The AP network's validation loss: binary cross-entropy over the eight diseases, as it trains."""
    return float(torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets.float()))


def train_ap(data: Path, out_dir: Path, config: TrainConfig, *, init: str | None = None,
             run: TrainRunOptions | None = None, trust_pickle: bool = False) -> dict:
    """Pre-train the AP network on ChestX-ray14 (8 ChestX-ray8 diseases, multi-label BCE), split by patient."""
    from cmx_bench.data.chestxray14 import DISEASES, read_chestxray14

    if config.balance != "none":
        raise CmxError("--balance is for rf and ms (single-label classes); the AP network's labels are multi-hot")
    items = read_chestxray14(data)
    # The patient split works on single labels: stratify by "any disease" so both parts hold positives.
    proxies = [LabelledImage(i.path, "sick" if any(i.targets) else "clear", i.patient_id) for i in items]
    parts = patient_split(proxies, fractions=(0.9, 0.1, 0.0), seed=config.seed)
    targets = {i.path: i.targets for i in items}
    card = card_at_input_size(get_card("densenet121"), config.input_size)
    sets = {name: CxrDataset(ImageFiles([i.path for i in parts[name]]), [list(targets[i.path]) for i in parts[name]],
                             card, augment=config.augment if name == "train" else "none")
            for name in ("train", "val")}
    torch.manual_seed(config.seed)
    model = ap_network()
    init_facts = _initialise("ap_densenet121", model, init, card, resume=bool(run and run.resume),
                             trust_pickle=trust_pickle)
    bce = torch.nn.BCEWithLogitsLoss()
    meta = {"player": "ap", "model": "ap_densenet121", "labels": list(DISEASES), "input_size": config.input_size,
            "data": str(data), **init_facts}
    summary = fit(model, sets["train"], sets["val"], config, out_dir, meta,
                  batch_loss=lambda logits, x, y: bce(logits.float(), y), score=mean_auroc_score,
                  val_loss=multilabel_bce_value, run=run)
    summary.update(skipped=[], counts={k: len(v) for k, v in parts.items()})
    return summary
