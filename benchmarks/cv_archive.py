"""Keep a cross-validation's finished folds in the repository, so that a later session on a fresh machine resumes it.

Run: python benchmarks/cv_archive.py save|restore CV_FOLDER ARCHIVE_FOLDER

A fold is finished when its done.json is there (train/cv.py writes it last); what the pooled predictions, the summary
and `cmx-bench compare` read of it is its done.json and predictions.csv, a few hundred KB in all: those are kept,
with the cv folder's cv.json, folds.json and recipe.toml, never its checkpoints. `save` copies them from CV_FOLDER
to ARCHIVE_FOLDER; `restore` copies them back into a CV_FOLDER that lacks them (a finished fold already there is
left alone), after which `cmx-bench cv` with the same settings keeps the restored folds and trains the rest.
Either way, an archive and a cv folder whose settings (cv.json) or fold assignment (folds.json's digest) differ
are refused, exit 2, and nothing is copied: their folds do not belong together. The pooled predictions and the
summary (predictions.csv, summary.md, summary.json at the top) are kept too once the cross-validation is complete.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

FOLDER_FILES = ("cv.json", "folds.json", "recipe.toml", "predictions.csv", "summary.md", "summary.json")
FOLD_FILES = ("predictions.csv", "done.json")  # done.json last: the mark of a finished fold


def mismatch(source: Path, target: Path) -> str | None:
    """Why source's folds do not belong with target's, or None."""
    for name, key in (("cv.json", "settings"), ("folds.json", "digest")):
        if (source / name).is_file() and (target / name).is_file():
            if json.loads((source / name).read_text())[key] != json.loads((target / name).read_text())[key]:
                return f"their {name} {key} differ"
    return None


def finished_folds(folder: Path) -> list[Path]:
    return sorted(path.parent for path in folder.glob("fold-*/done.json"))


def copy_finished(source: Path, target: Path, *, keep_existing: bool) -> list[str]:
    """Copy the folder files and every finished fold's files from source to target; returns the folds copied."""
    copied = []
    for fold in finished_folds(source):
        destination = target / fold.name
        if keep_existing and (destination / "done.json").is_file():
            continue
        destination.mkdir(parents=True, exist_ok=True)
        for name in FOLD_FILES:
            shutil.copy2(fold / name, destination / name)
        copied.append(fold.name)
    if copied or not keep_existing:
        for name in FOLDER_FILES:
            if (source / name).is_file() and not (keep_existing and (target / name).is_file()):
                shutil.copy2(source / name, target / name)
    return copied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("cv_folder", type=Path)
    parser.add_argument("archive", type=Path)
    args = parser.parse_args()
    source, target = (args.cv_folder, args.archive) if args.action == "save" else (args.archive, args.cv_folder)
    if not source.is_dir():
        if args.action == "restore":
            return 0  # nothing archived yet: cv starts from scratch
        print(f"cv_archive: {source} is not a folder; run the cross-validation first", file=sys.stderr)
        return 2
    why = mismatch(source, target)
    if why is not None:
        print(f"cv_archive: {source} and {target} are not the same cross-validation ({why}); nothing copied",
              file=sys.stderr)
        return 2
    target.mkdir(parents=True, exist_ok=True)
    copied = copy_finished(source, target, keep_existing=args.action == "restore")
    print(f"cv_archive {args.action}: {len(copied)} finished folds {source} -> {target}"
          + (f" ({', '.join(copied)})" if copied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
