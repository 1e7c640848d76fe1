"""Compare two cross-validations of the same images and folds (`cmx-bench cv` folders) image by image on their
pooled out-of-fold predictions, with the paired tests two evaluations get (McNemar, paired AUROC bootstrap)."""

from __future__ import annotations

import json
from pathlib import Path

from cmx_bench.errors import DataError
from cmx_bench.evaluate.predictions import PredictionSet
from cmx_bench.results.evaluation_compare import compare_prediction_sets
from cmx_bench.results.thresholds import Metric
from cmx_bench.train.folds import FOLDS_FILE, is_cv_folder, read_pooled_predictions

__all__ = ["compare_cv_runs", "is_cv_folder"]


def _folds_digest(folder: Path) -> str:
    try:
        return json.loads((Path(folder) / FOLDS_FILE).read_text())["digest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{Path(folder) / FOLDS_FILE} is not a cross-validation's folds ({exc.__class__.__name__}); "
                        "run its 'cmx-bench cv' command again to rewrite it") from None


def _sets(folder: Path) -> dict[str, PredictionSet]:
    """Each player's pooled sets as evaluation sets named 'PLAYER SET' (e.g. 'rf clean', 'ms snapshots')."""
    return {f"{player} {name}": PredictionSet(pooled.files, pooled.labels, pooled.probs, pooled.classes)
            for (player, name), pooled in read_pooled_predictions(folder).items()}


def compare_cv_runs(base_dir: Path, current_dir: Path, metrics: dict[str, Metric]) -> tuple[list[dict], list[str]]:
    """compare_evaluations' rows for two cv folders, per player and set; DataError (compare's exit 2) when one of
    the two is not a cv folder or their folds differ: images held out with other patients are not paired."""
    for folder in (base_dir, current_dir):
        if not is_cv_folder(folder):
            raise DataError(f"{folder} is not a cross-validation folder (no {FOLDS_FILE}); compare a cv folder with "
                            "another cv folder")
    base_digest, current_digest = _folds_digest(base_dir), _folds_digest(current_dir)
    if base_digest != current_digest:
        raise DataError(f"{base_dir} and {current_dir} were cross-validated on other folds (folds digest "
                        f"{base_digest[:12]} vs {current_digest[:12]}); cross-validate both with the same manifest, "
                        "number of folds and fold seed")
    return compare_prediction_sets(_sets(base_dir), _sets(current_dir), base_dir, current_dir, metrics)
