"""Load weights into a registry model: safe state dicts by default, whole-model pickles only when trusted."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch

from cmx_bench.errors import CheckpointError
from cmx_bench.fileio import sha256_file

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")


def _strip_module_prefix(state: dict) -> dict:
    # DataParallel / DistributedDataParallel save every key under "module.".
    if state and all(key.startswith("module.") for key in state):
        return OrderedDict((key[len("module."):], value) for key, value in state.items())
    return state


def _unwrap(obj, path: Path):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                return _unwrap(obj[key], path)
        if all(isinstance(value, torch.Tensor) for value in obj.values()):
            return obj
    raise CheckpointError(f"checkpoint {path} holds no state dict (found {type(obj).__name__}); "
                          "save one with torch.save(model.state_dict(), path)")


def _load_failure_reason(message: str) -> str:
    """What torch.load found wrong, without the weights_only advice it wraps every unpickling error in."""
    # For any byte stream that is not a pickle, weights_only=True answers with a paragraph about the 2.6
    # default change; the actual damage ("Unsupported operand 103") follows "WeightsUnpickler error:".
    _, marker, detail = message.partition("WeightsUnpickler error:")
    if marker:
        detail = detail.split("Check the documentation")[0]
    else:
        detail = message
    detail = " ".join(detail.split())
    if len(detail) > 120:  # keep whole sentences: torch appends advice after the first one
        head = detail[:120]
        detail = head[:head.find(". ")] if ". " in head else head
    return detail or "unreadable"


def _load_object(path: Path, trust_pickle: bool):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass an existing checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or EOFError depending on the damage
        message = str(exc)
        if "Weights only load failed" not in message or "GLOBAL" not in message and "global" not in message:
            raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch checkpoint "
                                  f"({_load_failure_reason(message)}); re-save it or pass another file") from exc
        if not trust_pickle:
            raise CheckpointError(f"checkpoint {path} is a whole pickled model, which can run arbitrary code "
                                  "when loaded; pass --trust-pickle only if you trust its source") from exc
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as inner:
            raise CheckpointError(f"checkpoint {path} could not be unpickled ({str(inner).splitlines()[0][:120]}); "
                                  "re-save its state_dict with the code that made it") from inner
    return obj


def read_state_dict(path: str | os.PathLike, *, trust_pickle: bool = False) -> dict:
    """The tensors of a checkpoint, on the CPU, with any DataParallel prefix removed."""
    path = Path(path)
    return _strip_module_prefix(_unwrap(_load_object(path, trust_pickle), path))


def _meta_of(obj) -> dict:
    """What cmx-bench's trainer stored beside the weights (model, head, input size, config), or {}."""
    meta = obj.get("cmx_bench") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def load_model(card, path: str | os.PathLike, *, trust_pickle: bool = False):
    """Build the card's network as the checkpoint was trained (linear or cosine head) and load it; card None: the
    network a cmx-bench checkpoint says it holds."""
    from cmx_bench.nets.heads import use_cosine_heads
    from cmx_bench.nets.registry import build_model, get_card

    obj = _load_object(Path(path), trust_pickle)  # read once: weights and trainer metadata
    meta = _meta_of(obj)
    if card is None:
        if not meta.get("model"):
            raise CheckpointError(f"checkpoint {path} does not say which network it holds (a plain state dict); "
                                  "pass --model NAME (see 'cmx-bench models')")
        card = get_card(meta["model"])
    if meta.get("model") and meta["model"] != card.name:
        raise CheckpointError(f"checkpoint {path} holds a {meta['model']} network; pass --model {meta['model']}")
    model = build_model(card)
    if meta.get("head") == "cosine":
        use_cosine_heads(model, meta.get("arcface_scale", 30.0))
    facts = _load_state(model, _strip_module_prefix(_unwrap(obj, Path(path))), path, trust_pickle)
    facts["trained"] = {k: meta[k] for k in ("model", "head", "input_size", "epoch", "val_score", "val_loss",
                                             "teacher") if k in meta}
    return model, facts


def load_weights(model: torch.nn.Module, path: str | os.PathLike, *, trust_pickle: bool = False) -> dict:
    """Load `path` into `model` strictly; returns provenance facts for the run record."""
    return _load_state(model, read_state_dict(path, trust_pickle=trust_pickle), path, trust_pickle)


def _load_state(model: torch.nn.Module, state: dict, path, trust_pickle: bool) -> dict:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        detail = " ".join(line.strip() for line in first[1:3])[:200]
        raise CheckpointError(f"checkpoint {path} does not fit {type(model).__name__}: {detail}; "
                              "check --model matches the checkpoint") from exc
    model.eval()
    return {"source": "checkpoint", "path": str(path), "sha256": sha256_file(path), "trusted_pickle": trust_pickle}


def random_init_facts(seed: int) -> dict:
    return {"source": "random_init", "path": None, "sha256": None, "seed": seed,
            "note": "randomly initialised weights: latency and resource figures only, accuracy is meaningless"}
