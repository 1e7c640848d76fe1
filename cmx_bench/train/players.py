"""The three players: AP pre-training (multi-label), RF fine-tuning from AP, MS distillation from RF (Eq. 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cmx_bench.data.images import decode_all, list_images
from cmx_bench.data.split import patient_split
from cmx_bench.errors import CheckpointError, CmxError
from cmx_bench.nets.checkpoint import load_model, read_state_dict
from cmx_bench.nets.cxr_densenet import ap_network, transfer_ap_to_rf
from cmx_bench.nets.heads import use_cosine_heads
from cmx_bench.nets.registry import build_model, card_at_input_size, get_card
from cmx_bench.data.datasets import CxrDataset
from cmx_bench.train.loops import fit
from cmx_bench.train.presets import TrainConfig

CLASSES = ("covid", "normal", "pneumonia")


@dataclass
class SplitData:
    train: CxrDataset
    val: CxrDataset
    skipped: list[str]
    counts: dict[str, int]


def load_split_data(data: Path, config: TrainConfig, card, *, skip_bad: bool = False) -> SplitData:
    """Train and validation sets from a manifest with a split column, or split by patient (7:1:2) on the fly."""
    skipped: list[str] = [] if skip_bad else None
    items = list_images(data, CLASSES, skipped=skipped)
    if not any(item.split for item in items):
        parts = patient_split(items, seed=config.seed)
    else:
        parts = {name: [i for i in items if i.split == name] for name in ("train", "val", "test")}
    sets = {}
    for name in ("train", "val"):
        if not parts[name]:
            raise CmxError(f"data {data} has no '{name}' images; prepare a split with 'cmx-bench data prepare'")
        kept, images, bad = decode_all(parts[name], skip_bad=skip_bad)
        if skipped is not None:
            skipped += bad
        sets[name] = CxrDataset(images, [CLASSES.index(i.label) for i in kept],
                                card_at_input_size(card, config.input_size), augment=name == "train", seed=config.seed)
    return SplitData(sets["train"], sets["val"], skipped or [], {k: len(v) for k, v in parts.items()})


def imagenet_init(model_name: str, model: torch.nn.Module) -> None:
    """torchvision ImageNet weights, only from the local torch hub cache: nothing is ever downloaded."""
    import torchvision

    weights = torchvision.models.get_model_weights(model_name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.is_file():
        raise CmxError(f"--init imagenet needs {cached} in the local torch cache and cmx-bench never downloads; "
                       "put the file there or use --init PATH")
    state = torch.load(cached, map_location="cpu", weights_only=True)
    own = model.state_dict()
    compatible = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(compatible, strict=False)


def _initialise(model_name: str, model, init: str | None, card) -> dict:
    if init is None:
        return {"init": "random"}
    if init == "imagenet":
        imagenet_init(model_name, model if model_name != "densenet121" else _densenet_trunk(model))
        return {"init": "imagenet (local cache)"}
    if model_name == "densenet121":
        # An AP checkpoint: transfer trunk, shared FC and pneumonia head (Section 3.3).
        ap = ap_network()
        try:
            ap.load_state_dict(read_state_dict(init), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"--init {init} is not an AP network checkpoint (train one with 'cmx-bench "
                                  "train ap')") from exc
        return {"init": f"AP {init}", "transferred": len(transfer_ap_to_rf(ap, model))}
    loaded, _ = load_model(card, init)
    model.load_state_dict(loaded.state_dict())
    return {"init": str(init)}


def _densenet_trunk(rf):
    class Trunk(torch.nn.Module):  # torchvision's names: features.* match the RF trunk's
        def __init__(self):
            super().__init__()
            self.features = rf.features
    return Trunk()


def train_classifier(model_name: str, data: Path, out_dir: Path, config: TrainConfig, *, teacher: Path | None = None,
                     init: str | None = None, skip_bad: bool = False, on_epoch=None) -> dict:
    """`train rf` (model densenet121) and `train ms` (a student, with --teacher for Eq. 2 distillation)."""
    card = get_card(model_name)
    split = load_split_data(data, config, card, skip_bad=skip_bad)
    torch.manual_seed(config.seed)
    model = build_model(card)
    init_facts = _initialise(model_name, model, init, card)
    if config.loss == "arcface":
        use_cosine_heads(model, config.arcface_scale)
    teacher_model = None
    if teacher is not None:
        teacher_model, _ = load_model(get_card("densenet121"), teacher)
    meta = {"model": model_name, "classes": list(CLASSES), "head": "cosine" if config.loss == "arcface" else "linear",
            "arcface_scale": config.arcface_scale, "input_size": config.input_size, "data": str(data),
            "teacher": str(teacher) if teacher else None, **init_facts}
    summary = fit(model, split.train, split.val, config, out_dir, meta, teacher=teacher_model, on_epoch=on_epoch)
    summary.update(skipped=split.skipped, counts=split.counts)
    return summary


def mean_auroc_score(model, loader) -> float:
    """Mean AUROC over the diseases present in the validation set (the AP network's selection score)."""
    from sklearn.metrics import roc_auc_score

    model.eval()
    scores, targets = [], []
    with torch.no_grad():
        for x, y in loader:
            scores.append(torch.sigmoid(model(x)))
            targets.append(y)
    scores, targets = torch.cat(scores).numpy(), torch.cat(targets).numpy()
    values = [roc_auc_score(targets[:, d], scores[:, d]) for d in range(targets.shape[1])
              if 0 < targets[:, d].sum() < len(targets)]
    return float(sum(values) / len(values)) if values else 0.0


def train_ap(data: Path, out_dir: Path, config: TrainConfig, *, init: str | None = None, on_epoch=None) -> dict:
    """Pre-train the AP network on ChestX-ray14 (8 ChestX-ray8 diseases, multi-label BCE), split by patient."""
    from cmx_bench.data.chestxray14 import DISEASES, read_chestxray14
    from cmx_bench.data.images import LabelledImage, read_grayscale

    items = read_chestxray14(data)
    # The patient split works on single labels: stratify by "any disease" so both parts hold positives.
    proxies = [LabelledImage(i.path, "sick" if any(i.targets) else "clear", i.patient_id) for i in items]
    parts = patient_split(proxies, fractions=(0.9, 0.1, 0.0), seed=config.seed)
    targets = {i.path: i.targets for i in items}
    card = card_at_input_size(get_card("densenet121"), config.input_size)
    sets = {}
    for name in ("train", "val"):
        chosen = parts[name]
        sets[name] = CxrDataset([read_grayscale(i.path) for i in chosen], [list(targets[i.path]) for i in chosen],
                                card, augment=name == "train", seed=config.seed)
    torch.manual_seed(config.seed)
    model = ap_network()
    init_facts = {"init": "random"}
    if init == "imagenet":
        imagenet_init("densenet121", _densenet_trunk(model))
        init_facts = {"init": "imagenet (local cache)"}
    elif init:
        model.load_state_dict(read_state_dict(init))
        init_facts = {"init": str(init)}
    bce = torch.nn.BCEWithLogitsLoss()
    meta = {"model": "ap_densenet121", "labels": list(DISEASES), "input_size": config.input_size, "data": str(data),
            **init_facts}
    summary = fit(model, sets["train"], sets["val"], config, out_dir, meta,
                  batch_loss=lambda logits, x, y: bce(logits, y), score=mean_auroc_score, on_epoch=on_epoch)
    summary.update(skipped=[], counts={k: len(v) for k, v in parts.items()})
    return summary
