"""Helpers for the hostile-record tests: a fully scored record block, and a field set at a path."""

import numpy as np

from cmx_bench.evaluate.metrics import classification_metrics

CLASSES = ("covid", "normal", "pneumonia")


def scored_block(images: int = 30, seed: int = 0) -> dict:
    """An accuracy block as a run with --data writes it: figures, intervals, per-image outputs, parity, eager."""
    rng = np.random.default_rng(seed)
    probs, labels = rng.dirichlet([1, 1, 1], size=images), rng.integers(0, 3, images)
    block = classification_metrics(probs, labels, CLASSES)
    block.update(outputs=probs.tolist(), labels=labels.tolist(), images_sha256="a" * 64,
                 per_source_accuracy={"kaggle": 0.5, "nih": None},
                 parity={"max_abs_delta_prob": 0.0, "argmax_agreement": 1.0, "reference": "eager"},
                 eager=classification_metrics(probs, labels, CLASSES, intervals=False))
    return block


def put(record: dict, path: str, value) -> dict:
    """Set the field at 'a/b/0' (made where missing), as a hand-edited or damaged record would hold it."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
    node = record
    for part in parents:
        if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
            node[part] = {}
        node = node[part]
    node[last] = value
    return record
