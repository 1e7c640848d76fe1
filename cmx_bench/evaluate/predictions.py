"""An evaluation's per-image predictions: predictions.csv written, and read back for paired comparisons."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cmx_bench.errors import DataError


def predictions_csv(sets: dict, classes) -> str:
    """One row per image of each set (file, source, label, prediction, probabilities): so that an error can be
    traced to its file and its source hospital. Probabilities keep 9 significant digits (a float32 exactly): with
    fixed decimals a confident network's small probabilities collapse into ties, and the AUROC read back from the
    file would differ from the evaluation's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["set", "file", "source", "label", "predicted", "correct", *[f"p_{c}" for c in classes]])
    for name, result in sets.items():
        for item, label, probs in zip(result["items"], result["labels"], result["probs"]):
            predicted = classes[int(probs.argmax())]
            writer.writerow([name, item.path, item.source or "", classes[int(label)], predicted,
                             int(predicted == classes[int(label)]), *[f"{p:.9g}" for p in probs]])
    return out.getvalue()


@dataclass
class PredictionSet:
    files: list[str]
    labels: np.ndarray  # class index per image
    probs: np.ndarray  # images x classes
    classes: tuple[str, ...]


def read_predictions(folder: Path) -> dict[str, PredictionSet]:
    """The sets (clean, snapshots) of an evaluation folder's predictions.csv; DataError naming the file when it is
    missing or not what `cmx-bench evaluate` writes."""
    path = Path(folder) / "predictions.csv"
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        classes = tuple(name[2:] for name in (rows[0].keys() if rows else ()) if name.startswith("p_"))
        grouped: dict[str, list[dict]] = {}
        for row in rows:
            grouped.setdefault(row["set"], []).append(row)
        return {name: PredictionSet([r["file"] for r in group],
                                    np.array([classes.index(r["label"]) for r in group], dtype=int),
                                    np.array([[float(r[f"p_{c}"]) for c in classes] for r in group]), classes)
                for name, group in grouped.items()}
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; point to a folder written by 'cmx-bench evaluate'") from None
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        raise DataError(f"{path} is not an evaluation's predictions ({exc}); evaluate again to rewrite it") from exc
