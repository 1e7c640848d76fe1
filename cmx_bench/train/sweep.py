"""The paper's alpha x temperature x loss grid per backbone, on clean images and on snapshots; resumable."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cmx_bench import paths
from cmx_bench.errors import CmxError
from cmx_bench.fileio import write_json_atomic, write_text_atomic
from cmx_bench.tomlcompat import tomllib
from cmx_bench.train.presets import TrainConfig, replace_config
from cmx_bench.train.recipe import RECIPE_FILE, SWEEP_KEYS, recipe_config, recipe_text, resolve_recipe, resolved_recipe

LOSSES = ("pc0.8", "pc0.995", "arcface", "softmax")  # the paper's four columns
FIXED_T, FIXED_ALPHA = 5.0, 0.8                      # Tables 2-4: alpha rows at T = 5, T rows at alpha = 0.8
CELL_FIELDS = ("alpha", "temperature", "loss", "margin")  # what varies from cell to cell; the rest is the recipe
SWEEP_DEFAULTS = {"model": "shufflenet_v2_x1_0", "alphas": "0.2,0.4,0.6,0.8", "temperatures": "1,5,10",
                  "losses": ",".join(LOSSES)}


@dataclass(frozen=True)
class Cell:
    alpha: float
    temperature: float
    loss: str

    @property
    def name(self) -> str:
        return f"a{self.alpha:g}_t{self.temperature:g}_{self.loss}"


def parse_loss(spec: str) -> dict:
    """'pc0.8' -> PC loss with margin 0.8; 'arcface'; 'softmax'."""
    if spec.startswith("pc"):
        try:
            return {"loss": "pc", "margin": float(spec[2:] or 0.8)}
        except ValueError as exc:
            raise CmxError(f"loss '{spec}' is not pc<margin> (e.g. pc0.8), arcface or softmax") from exc
    if spec in ("arcface", "softmax"):
        return {"loss": spec}
    raise CmxError(f"unknown loss '{spec}'; choose pc<margin> (e.g. pc0.8), arcface or softmax")


def paper_grid(alphas=(0.2, 0.4, 0.6, 0.8), temperatures=(1.0, 5.0, 10.0), losses=LOSSES) -> list[Cell]:
    """The cells of Tables 2-4: every alpha at T = 5 and every T at alpha = 0.8, for each loss."""
    cells = []
    for loss in losses:
        parse_loss(loss)
        for alpha in alphas:
            cells.append(Cell(alpha, FIXED_T, loss))
        for temperature in temperatures:
            cells.append(Cell(FIXED_ALPHA, temperature, loss))
    return list(dict.fromkeys(cells))


def paper_accuracy(backbone: str) -> dict:
    with open(paths.models_dir() / "paper" / "accuracy_tables.toml", "rb") as handle:
        return tomllib.load(handle).get(backbone, {})


def sweep_recipe(base: TrainConfig) -> dict:
    """The settings every cell of a sweep shares: cells made with other ones do not belong in its tables."""
    return {key: value for key, value in asdict(base).items() if key not in CELL_FIELDS}


def check_same_recipe(cells_dir: Path, backbone: str, recipe: dict) -> None:
    """Refuse to add to a sweep folder whose cells for `backbone` were trained with another recipe."""
    for record_path in sorted(cells_dir.glob(f"{backbone}__*.json")):
        # Records written before recipes were kept are taken as they are.
        made_with = json.loads(record_path.read_text()).get("recipe", recipe)
        # A setting added after a record was written was then at its default (what the code did before it existed).
        made_with = {**asdict(TrainConfig()), **made_with}
        differences = [f"{key} {made_with.get(key)} there, {value} now" for key, value in recipe.items()
                       if made_with.get(key) != value]
        if differences:
            raise CmxError(f"{record_path} was trained with another recipe ({'; '.join(differences)}); pass a new "
                           "--out, or the options that sweep was run with")


@dataclass(frozen=True)
class SweepRequest:
    """One sweep: the backbone, its grid, the data kinds with their teachers, the shared recipe, and its folder."""

    model: str
    cells: list[Cell]
    losses: list[str]
    data: dict[str, Path]      # kind (clean, snapshot) -> manifest
    teachers: dict[str, Path]  # kind -> RF checkpoint
    base: TrainConfig
    out: Path
    recipe: dict               # the resolved recipe, by field name (train/recipe.py)


def parse_numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise CmxError(f"'{text}' is not a comma-separated list of numbers") from exc


def sweep_request(recipe: Path | None, given: dict, out: Path) -> SweepRequest:
    """The sweep asked for by a recipe file and the command line's options (`given`, by field name)."""
    values = {**SWEEP_DEFAULTS, **{k: v for k, v in resolve_recipe(SWEEP_KEYS, recipe, given).items()
                                   if v is not None}}
    for needed in ("data", "teacher"):
        if values.get(needed) is None:
            raise CmxError(f"sweep needs --{needed} (or '{needed}' in a --recipe file)")
    losses = [v.strip() for v in values["losses"].split(",") if v.strip()]
    cells = paper_grid(parse_numbers(values["alphas"]), parse_numbers(values["temperatures"]), losses)
    data = {"clean": values["data"], **({"snapshot": values["snapshots"]} if values.get("snapshots") else {})}
    teachers = {"clean": values["teacher"], "snapshot": values.get("snapshot_teacher") or values["teacher"]}
    base = recipe_config(values)
    return SweepRequest(model=values["model"], cells=cells, losses=losses, data=data, teachers=teachers, base=base,
                        out=Path(out), recipe=resolved_recipe(SWEEP_KEYS, values, base))


def run_sweep(request: SweepRequest, *, on_cell=None, run=None) -> list[dict]:
    """Train and test one student per (cell, data kind); a cell whose record exists is skipped (resume), once
    every recorded cell is known to have been made with the same recipe. The folder keeps recipe.toml."""
    from cmx_bench.evaluate.evaluation import evaluate_set
    from cmx_bench.nets.checkpoint import load_model
    from cmx_bench.nets.registry import card_for_trained, get_card
    from cmx_bench.train.engine import PRECISIONS
    from cmx_bench.train.loops import TrainRunOptions
    from cmx_bench.train.players import train_classifier

    run = run or TrainRunOptions()
    where = {"device": run.engine.device, "dtype": PRECISIONS[run.engine.precision]} if run.engine else {}

    backbone, data, teachers, out_dir, base = (request.model, request.data, request.teachers, request.out,
                                                request.base)
    card = get_card(backbone)
    recipe = sweep_recipe(base)
    check_same_recipe(Path(out_dir) / "cells", backbone, recipe)
    write_text_atomic(Path(out_dir) / RECIPE_FILE, recipe_text(SWEEP_KEYS, request.recipe, "cmx-bench sweep"))
    records = []
    for cell in request.cells:
        for kind, location in data.items():
            record_path = Path(out_dir) / "cells" / f"{backbone}__{cell.name}__{kind}.json"
            if record_path.is_file():
                records.append(json.loads(record_path.read_text()))
                if on_cell:
                    on_cell(records[-1], skipped=True)
                continue
            config = replace_config(base, alpha=cell.alpha, temperature=cell.temperature, **parse_loss(cell.loss))
            folder = Path(out_dir) / "checkpoints" / f"{backbone}__{cell.name}__{kind}"
            summary = train_classifier(backbone, location, folder, config, teacher=teachers[kind], run=run)
            model, facts = load_model(card, summary["checkpoint"])
            metrics = evaluate_set(model, card_for_trained(card, facts), location, "test", workers=run.workers,
                                   **where)["metrics"]
            record = {"kind": "sweep_cell", "backbone": backbone, "data": kind, "alpha": cell.alpha,
                      "temperature": cell.temperature, "loss": cell.loss, "test_accuracy": metrics["accuracy"],
                      "auroc": metrics["auroc"], "best_val_score": summary["best"]["val_score"],
                      "checkpoint": summary["checkpoint"], "teacher": str(teachers[kind]), "recipe": recipe}
            write_json_atomic(record_path, record, overwrite=False)
            records.append(record)
            if on_cell:
                on_cell(record, skipped=False)
    return records
