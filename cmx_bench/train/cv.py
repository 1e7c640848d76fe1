"""`cmx-bench cv`: patient-level k-fold cross-validation of the RF teacher and its distilled student, one folder per
fold (resumable), the folds run one after another or several at once in separate processes, and the pooled
out-of-fold predictions."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from cmx_bench.data.images import LabelledImage, check_readable, list_images
from cmx_bench.data.prepare import write_manifest
from cmx_bench.errors import CmxError, DataError, OutputError
from cmx_bench.fileio import write_json_atomic, write_text_atomic
from cmx_bench.train.folds import (FOLDS_FILE, INNER_VAL_SHARE, PREDICTIONS_FILE, assign_folds, fold_parts,
                                   folds_document, patient_of)
from cmx_bench.train.presets import TrainConfig
from cmx_bench.train.recipe import TRAIN_KEYS, recipe_config, recipe_text, resolve_recipe, resolved_recipe

CLASSES = ("covid", "normal", "pneumonia")
CV_FILE, DONE_FILE = "cv.json", "done.json"
PLAYER_CHOICES = {"both": ("rf", "ms"), "rf": ("rf",)}
TEACHER_MODEL = "densenet121"


@dataclass(frozen=True)
class CvRequest:
    """What to cross-validate: the images, the folds, the players and the recipe they share (a run of `train`'s
    options: the student's Eq. 2 settings leave the RF unchanged)."""

    manifest: Path
    out: Path
    folds: int
    fold_seed: int
    players: tuple[str, ...]
    student: str
    config: TrainConfig
    recipe: dict  # the resolved recipe, by field name (train/recipe.py), as DIR/recipe.toml writes it
    snapshots: Path | None = None  # snapshot twins, evaluated on held-out patients
    train_on_snapshots: bool = False  # --snapshots (as `train`): the training patients' twins are trained on too
    init: str | None = None  # 'imagenet' starts both players from ImageNet; an AP checkpoint starts the RF only
    skip_bad: bool = False
    preset: str = "cpu"
    trust_pickle: bool = False

    def settings(self) -> dict:
        """What decides the folds and the predictions: a cv folder is only continued with the same settings."""
        return json.loads(json.dumps({"manifest": self.manifest.resolve(), "folds": self.folds,
                                      "fold_seed": self.fold_seed, "players": list(self.players),
                                      "student": self.student, "snapshots": self.snapshots and self.snapshots.resolve(),
                                      "train_on_snapshots": self.train_on_snapshots, "init": self.init,
                                      "skip_bad": self.skip_bad, "inner_val_share": INNER_VAL_SHARE,
                                      "recipe": self.recipe}, default=_absolute))


def _absolute(value) -> str:
    # Paths as absolute ones: the same cv, continued from another working folder, has the same settings.
    return str(value.resolve()) if isinstance(value, Path) else str(value)


@dataclass(frozen=True)
class CvExecution:
    """Where and how the folds run, never part of what they learn: at most `jobs` folds at once, each in a process
    with `threads` torch threads (recorded in every fold's done.json), `workers` loader processes each."""

    jobs: int = 1
    threads: int = 1
    workers: int = 0
    accelerator: str = "auto"
    precision: str = "fp32"
    only_fold: int | None = None
    on_epoch: object = None  # on_epoch(row, best) after every epoch of a fold run in this process (jobs 1)


def cv_request(recipe: Path | None, given: dict, *, out: Path, folds: int = 5, fold_seed: int | None = None,
               player: str = "both", eval_snapshots: Path | None = None, trust_pickle: bool = False) -> CvRequest:
    """The cross-validation asked for by a recipe file and the command line's `train` options (`given`, by field
    name: data is the manifest, model the student)."""
    values = resolve_recipe(TRAIN_KEYS, recipe, given)
    if values["data"] is None:
        raise CmxError("cv needs a MANIFEST (as 'cmx-bench data prepare' writes it; or 'data' in a --recipe file)")
    if values["teacher"] is not None:
        raise CmxError("cv trains each fold's teacher on that fold's patients; remove 'teacher' from the recipe "
                       "file")
    if values["cache"] is not None:
        raise CmxError("cv reads images from their files (a data cache belongs to one manifest, and each fold has "
                       "its own); remove 'cache' from the recipe file")
    if player not in PLAYER_CHOICES:
        raise CmxError(f"unknown --player '{player}'; choose both (the RF, then the student distilled from it) or rf")
    snapshots = values["snapshots"]
    if snapshots and eval_snapshots and Path(snapshots).resolve() != Path(eval_snapshots).resolve():
        raise CmxError(f"--snapshots {snapshots} and --eval-snapshots {eval_snapshots} name two sets of twins; pass "
                       "one (--snapshots also trains on them, --eval-snapshots only evaluates on them)")
    config = recipe_config(values)
    return CvRequest(manifest=Path(values["data"]), out=Path(out), folds=folds,
                     fold_seed=config.seed if fold_seed is None else fold_seed, players=PLAYER_CHOICES[player],
                     student=values["model"] or "shufflenet_v2_x1_0", config=config,
                     recipe=resolved_recipe(TRAIN_KEYS, values, config), snapshots=snapshots or eval_snapshots,
                     train_on_snapshots=snapshots is not None, init=values["init"], skip_bad=values["skip_bad"],
                     preset=values["preset"] or "cpu", trust_pickle=trust_pickle)


def fold_dir(out: Path, fold: int) -> Path:
    return Path(out) / f"fold-{fold}"


def fold_done(out: Path, fold: int) -> bool:
    return (fold_dir(out, fold) / DONE_FILE).is_file()


def _pool(request: CvRequest) -> tuple[list[LabelledImage], list[LabelledImage], list[str]]:
    """The cross-validated images (the manifest's train and val splits; the test split is left out unread), the
    snapshot twins of their patients, and what --skip-bad left out."""
    skipped = [] if request.skip_bad else None
    items = list_images(request.manifest, CLASSES, skipped=skipped)
    if not any(item.split for item in items):
        raise DataError(f"manifest {request.manifest} has no split column; make one with 'cmx-bench data prepare' "
                        "so that its test split stays out of the cross-validation")
    pool = [item for item in items if item.split in ("train", "val")]
    if not pool:
        raise DataError(f"manifest {request.manifest} has no train or val images to cross-validate")
    pool, bad = check_readable(pool, skip_bad=request.skip_bad)
    twins = []
    if request.snapshots is not None:
        patients = {patient_of(item) for item in pool}
        twins = [twin for twin in list_images(request.snapshots, CLASSES, skipped=skipped)
                 if twin.split != "test" and patient_of(twin) in patients]
        if not twins:
            raise DataError(f"snapshots {request.snapshots} hold no twin of the manifest's train or val patients; "
                            f"make them with 'cmx-bench data snapshots {request.manifest}'")
        twins, bad_twins = check_readable(twins, skip_bad=request.skip_bad)
        bad += bad_twins
    return pool, twins, (skipped or []) + bad


def _check_same_settings(out: Path, settings: dict) -> None:
    """Refuse to continue a cv folder that was made with other settings: its finished folds would not belong."""
    path = Path(out) / CV_FILE
    if not path.is_file():
        return
    earlier = json.loads(path.read_text()).get("settings", {})
    recipe_then, recipe_now = earlier.get("recipe", {}), settings["recipe"]
    differences = [f"{key} {recipe_then.get(key)} there, {recipe_now.get(key)} now"
                   for key in sorted(set(recipe_then) | set(recipe_now)) if recipe_then.get(key) != recipe_now.get(key)]
    differences += [f"{key} {earlier.get(key)} there, {value} now" for key, value in settings.items()
                    if key != "recipe" and earlier.get(key) != value]
    if differences:
        raise OutputError(f"{out} holds a cross-validation with other settings ({'; '.join(differences)}); pass "
                          "another --out, or the options it was run with")


def _check_same_folds(out: Path, digest: str) -> None:
    """Refuse to continue a cv folder whose folds were other patients (the manifest changed under the same name)."""
    path = Path(out) / FOLDS_FILE
    if path.is_file() and json.loads(path.read_text()).get("digest") != digest:
        raise OutputError(f"{out} was cross-validated on other folds (its {FOLDS_FILE} has another digest: the "
                          "manifest changed); pass another --out, or the manifest it was run with")


def _write_fold_manifests(request: CvRequest, fold: int, parts: dict,
                          twins: list[LabelledImage]) -> dict[str, Path | None]:
    """fold-K/split.csv (train, val, and the held-out patients as test) and, with twins, fold-K/snapshots.csv with
    each twin in its patient's part: the manifests the training library and the evaluation read."""
    folder = fold_dir(request.out, fold)
    split = write_manifest(parts, folder / "split.csv")
    twin_manifest = None
    if twins:
        part_of = {patient_of(item): name for name, items in parts.items() for item in items}
        twin_parts = {name: [twin for twin in twins if part_of[patient_of(twin)] == name] for name in parts}
        twin_manifest = write_manifest(twin_parts, folder / "snapshots.csv")
    return {"split": split, "snapshots": twin_manifest}


def _train_one(request: CvRequest, player: str, folder: Path, manifests: dict, engine, execution: CvExecution) -> dict:
    """Train (or continue) one player of one fold through the training library; returns fit()'s summary."""
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.train.service import TrainRequest, train_player

    run_dir = folder / player
    resume = (run_dir / "last.pth").is_file()
    if not resume and run_dir.exists():
        shutil.rmtree(run_dir)  # stopped before its first epoch ended: nothing of it is kept anywhere else
    init = request.init if player == "rf" or request.init == "imagenet" else None
    train = TrainRequest(player=player, data=manifests["split"], out=run_dir, model=request.student,
                         teacher=folder / "rf" / "best.pth" if player == "ms" else None, init=init,
                         skip_bad=request.skip_bad,
                         snapshots=manifests["snapshots"] if request.train_on_snapshots else None,
                         preset=request.preset, trust_pickle=request.trust_pickle)
    run = TrainRunOptions(engine=engine, workers=execution.workers, resume=resume, on_epoch=execution.on_epoch)
    summary = train_player(train, request.config, run)
    if summary["interrupted"]:
        raise KeyboardInterrupt  # the fold's last.pth holds its last finished epoch; running cv again resumes it
    if summary["best"]["epoch"] is None:
        raise CmxError(f"{run_dir} finished no epoch; run cv again")
    return summary


def _held_out_predictions(request: CvRequest, player: str, fold: int, folder: Path, manifests: dict, engine,
                          workers: int) -> str:
    """The CSV rows (no header) of the kept epoch's predictions on the fold's held-out patients, clean and twins."""
    from cmx_bench.evaluate.evaluation import evaluate_set
    from cmx_bench.evaluate.predictions import predictions_csv
    from cmx_bench.nets.checkpoint import load_model
    from cmx_bench.nets.registry import card_for_trained, get_card
    from cmx_bench.train.engine import PRECISIONS

    name = TEACHER_MODEL if player == "rf" else request.student
    model, facts = load_model(get_card(name), folder / player / "best.pth")
    card = card_for_trained(get_card(name), facts)
    where = {"device": engine.device, "dtype": PRECISIONS[engine.precision], "workers": workers}
    sets = {"clean": evaluate_set(model, card, manifests["split"], "test", request.skip_bad, **where)}
    if manifests["snapshots"] is not None:
        sets["snapshots"] = evaluate_set(model, card, manifests["snapshots"], "test", request.skip_bad, **where)
    rows = list(csv.reader(io.StringIO(predictions_csv(sets, card.classes))))[1:]
    return _csv_text([[player, fold, *row] for row in rows])


def prediction_columns() -> list[str]:
    """evaluate's predictions.csv columns with the player and the fold that held the image out in front."""
    return ["player", "fold", "set", "file", "source", "label", "predicted", "correct", *[f"p_{c}" for c in CLASSES]]


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def run_fold(request: CvRequest, fold: int, manifests: dict, engine, execution: CvExecution) -> dict:
    """Train each player of one fold (the student from this fold's RF), score its held-out patients, and write
    fold-K/predictions.csv, then fold-K/done.json, the mark of a finished fold, last."""
    folder, started = fold_dir(request.out, fold), time.time()
    rows, players = "", {}
    for player in request.players:
        summary = _train_one(request, player, folder, manifests, engine, execution)
        rows += _held_out_predictions(request, player, fold, folder, manifests, engine, execution.workers)
        players[player] = {"kept_epoch": summary["best"]["epoch"], "val_score": summary["best"]["val_score"],
                           "val_loss": summary["best"].get("val_loss"), "checkpoint": summary["checkpoint"],
                           "counts": summary.get("counts")}
    write_text_atomic(folder / PREDICTIONS_FILE, _csv_text([prediction_columns()]) + rows)
    done = {"fold": fold, "players": players, "threads": torch.get_num_threads(), "device": str(engine.device),
            "precision": engine.precision, "seconds_this_part": time.time() - started}
    write_json_atomic(folder / DONE_FILE, done)
    return done


def _run_in_this_process(request: CvRequest, folds: list[int], manifests: dict, execution: CvExecution,
                         on_fold=None) -> None:
    from cmx_bench.train.engine import start_engine, stop_engine

    threads = torch.get_num_threads()
    torch.set_num_threads(execution.threads)
    engine = start_engine(execution.accelerator, execution.precision)
    try:
        for fold in folds:
            done = run_fold(request, fold, manifests[fold], engine, execution)
            if on_fold:
                on_fold(done)
    finally:
        stop_engine(engine)
        torch.set_num_threads(threads)


def _claim_device(devices) -> None:
    """A fold process's initializer: the GPU it may see (CUDA reads this when it starts, after spawn)."""
    import warnings

    warnings.filterwarnings("ignore")
    device = devices.get()
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device


def _fold_in_child(request: CvRequest, fold: int, manifests: dict, execution: CvExecution) -> dict:
    from cmx_bench.train.engine import start_engine, stop_engine

    torch.set_num_threads(execution.threads)
    engine = start_engine(execution.accelerator, execution.precision)
    try:
        return run_fold(request, fold, manifests, engine, execution)
    finally:
        stop_engine(engine)


def _visible_gpus(accelerator: str) -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them; none for the CPU."""
    if accelerator in ("cpu", "mps") or not torch.cuda.is_available():
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    names = [name.strip() for name in listed.split(",") if name.strip()] if listed else []
    return names or [str(index) for index in range(torch.cuda.device_count())]


def _run_in_processes(request: CvRequest, folds: list[int], manifests: dict, execution: CvExecution,
                      on_fold=None) -> None:
    """At most `jobs` folds at once, each in its own spawned process (CUDA and torch's threads do not survive a
    fork), each process given one GPU of this machine's when it has some."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    gpus, devices = _visible_gpus(execution.accelerator), context.Queue()
    for slot in range(execution.jobs):
        devices.put(gpus[slot % len(gpus)] if gpus else None)
    child = replace(execution, on_epoch=None)  # a callback of this process cannot run in another
    executor = ProcessPoolExecutor(max_workers=execution.jobs, mp_context=context, initializer=_claim_device,
                                   initargs=(devices,))
    try:
        pending = {executor.submit(_fold_in_child, request, fold, manifests[fold], child) for fold in folds}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done = future.result()  # a fold's CmxError stops the run here, with its one line
                if on_fold:
                    on_fold(done)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)  # running folds save their epoch and stop (Ctrl-C)
        raise
    executor.shutdown(wait=True)


def pooled_predictions(request: CvRequest, pool: list[LabelledImage], twins: list[LabelledImage]) -> Path:
    """DIR/predictions.csv: every fold's held-out predictions, each player's in fold order; checked to hold every
    cross-validated image (and twin) exactly once per player."""
    lines = [_csv_text([prediction_columns()])]
    for player in request.players:
        for fold in range(1, request.folds + 1):
            with (fold_dir(request.out, fold) / PREDICTIONS_FILE).open(newline="") as handle:
                lines.append(_csv_text([row for row in list(csv.reader(handle))[1:] if row[0] == player]))
    text = "".join(lines)
    rows = list(csv.DictReader(io.StringIO(text)))
    for player in request.players:
        for name, items in (("clean", pool), ("snapshots", twins)):
            scored = sorted(row["file"] for row in rows if row["player"] == player and row["set"] == name)
            if scored != sorted(str(item.path) for item in items):
                raise CmxError(f"the folds of {request.out} scored other {name} images than the manifest lists for "
                               f"player {player}; delete the fold folders and run cv again")
    return write_text_atomic(Path(request.out) / PREDICTIONS_FILE, text)


def run_cv(request: CvRequest, execution: CvExecution = CvExecution(), *, on_fold=None) -> dict:
    """Cross-validate: assign the folds (DIR/folds.json), keep every finished fold, continue a stopped one, train
    the others (all, or only `execution.only_fold`), and once every fold is done pool their predictions. Returns
    what was done and where the pooled predictions are (None while folds are left)."""
    pool, twins, skipped = _pool(request)
    fold_of = assign_folds(pool, request.folds, request.fold_seed)
    if execution.only_fold is not None and not 1 <= execution.only_fold <= request.folds:
        raise CmxError(f"--only-fold {execution.only_fold} is not one of the folds 1 to {request.folds}")
    settings = request.settings()
    _check_same_settings(request.out, settings)
    out = Path(request.out)
    folds = folds_document(fold_of, request.folds, request.fold_seed, request.manifest, len(pool))
    _check_same_folds(out, folds["digest"])
    write_json_atomic(out / FOLDS_FILE, folds)
    write_json_atomic(out / CV_FILE, {"kind": "cv", "settings": settings, "images": len(pool), "twins": len(twins),
                                      "skipped": skipped, "execution": {"jobs": execution.jobs,
                                                                        "threads_per_fold": execution.threads,
                                                                        "workers": execution.workers}})
    write_text_atomic(out / "recipe.toml", recipe_text(TRAIN_KEYS, request.recipe, "cmx-bench cv"))
    chosen = [execution.only_fold] if execution.only_fold else list(range(1, request.folds + 1))
    kept = [fold for fold in chosen if fold_done(out, fold)]
    todo = [fold for fold in chosen if fold not in kept]
    manifests = {fold: _write_fold_manifests(request, fold, fold_parts(pool, fold_of, fold, request.fold_seed), twins)
                 for fold in todo}
    if execution.jobs > 1 and len(todo) > 1:
        _run_in_processes(request, todo, manifests, execution, on_fold)
    elif todo:
        _run_in_this_process(request, todo, manifests, execution, on_fold)
    complete = all(fold_done(out, fold) for fold in range(1, request.folds + 1))
    predictions = pooled_predictions(request, pool, twins) if complete else None
    return {"kept": kept, "trained": todo, "complete": complete, "predictions": predictions, "images": len(pool),
            "twins": len(twins), "skipped": skipped, "folds_left": [f for f in range(1, request.folds + 1)
                                                                   if not fold_done(out, f)]}
