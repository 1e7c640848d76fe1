"""One entry point for `cmx-bench train`: a new run of a player, or the continuation of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from cmx_bench.errors import CheckpointError, CmxError, OutputError, UnknownNameError
from cmx_bench.fileio import write_text_atomic
from cmx_bench.train.checkpoints import read_last_checkpoint
from cmx_bench.train.loops import TrainRunOptions
from cmx_bench.train.presets import TrainConfig
from cmx_bench.train.recipe import (RECIPE_FILE, TRAIN_KEYS, read_recipe, recipe_config, recipe_text, resolve_recipe,
                                    resolved_recipe)

PLAYERS = ("ap", "rf", "ms")


@dataclass(frozen=True)
class TrainRequest:
    """What to train, on what: everything but the recipe (TrainConfig) and the execution (TrainRunOptions)."""

    player: str
    data: Path
    out: Path
    model: str = "shufflenet_v2_x1_0"
    teacher: Path | None = None
    init: str | None = None
    skip_bad: bool = False
    cache: Path | None = None
    snapshots: Path | None = None
    tensorboard: bool = False
    sync_bn: bool = False
    preset: str = "cpu"  # what the recipe started from; recipe.toml keeps it beside every resolved setting
    trust_pickle: bool = False  # a security opt-in for --init / --teacher, never part of a recipe

    @property
    def model_name(self) -> str:
        return {"ap": "ap_densenet121", "rf": "densenet121"}.get(self.player, self.model)


def _optional_path(value) -> Path | None:
    return Path(value) if value else None


def resumed_request(player: str, run_dir: Path, epochs: int | None = None) -> tuple[TrainRequest, TrainConfig]:
    """The request and recipe of the run in `run_dir`, read from its last.pth (`epochs` may extend it)."""
    meta = read_last_checkpoint(run_dir).get("cmx_bench", {})
    if meta.get("player") != player:
        raise CheckpointError(f"{run_dir} holds a '{meta.get('player')}' run, not '{player}'; "
                              f"run 'cmx-bench train {meta.get('player')} --resume {run_dir}'")
    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in meta["config"].items() if k in known})
    if epochs:
        config = replace(config, epochs=epochs)
    request = TrainRequest(player=player, data=Path(meta["data"]), out=Path(run_dir),
                           model=meta.get("model", "shufflenet_v2_x1_0"), teacher=_optional_path(meta.get("teacher")),
                           cache=_optional_path(meta.get("cache")), snapshots=_optional_path(meta.get("snapshots")))
    return request, config


def train_request(player: str, recipe: Path | None, given: dict, *, out: Path | None = None,
                  resume: Path | None = None, trust_pickle: bool = False) -> tuple[TrainRequest, TrainConfig]:
    """What `cmx-bench train` was asked for: a new run from the recipe file and the command line's options
    (`given`, by field name), or with `resume` the continuation of the run in that folder."""
    execution = {"tensorboard": bool(given.get("tensorboard")), "sync_bn": bool(given.get("sync_bn")),
                 "trust_pickle": trust_pickle}
    if resume is not None:
        if recipe is not None:
            raise CmxError(f"--recipe starts a new run; --resume {resume} continues that run with its own recipe "
                           "(only --epochs extends it)")
        request, config = resumed_request(player, resume, given.get("epochs"))
        return replace(request, **execution), config
    values = resolve_recipe(TRAIN_KEYS, recipe, given)
    if values["data"] is None:
        raise CmxError("train needs --data (a manifest or class folders; or 'data' in a --recipe file), or "
                       "--resume RUN_DIR")
    if player != "ms":
        values["model"] = None  # the teacher's network is fixed; a student's name would only mislead its recipe
    config = recipe_config(values)
    request = TrainRequest(player=player, data=values["data"], out=out or Path("runs") / player,
                           model=values["model"] or TrainRequest.model, teacher=values["teacher"],
                           init=values["init"], skip_bad=values["skip_bad"], cache=values["cache"],
                           snapshots=values["snapshots"], tensorboard=values["tensorboard"],
                           sync_bn=values["sync_bn"], preset=values["preset"] or "cpu", trust_pickle=trust_pickle)
    return request, config


def keep_recipe(request: TrainRequest, config: TrainConfig, resumed: bool) -> None:
    """recipe.toml in the run folder: the settings a new run resolved, or a resumed run's extended epochs."""
    path = Path(request.out) / RECIPE_FILE
    command = f"cmx-bench train {request.player}"
    if not resumed:
        values = {field: getattr(request, field, None) for field in TRAIN_KEYS}
        values["model"] = request.model if request.player == "ms" else None
        write_text_atomic(path, recipe_text(TRAIN_KEYS, resolved_recipe(TRAIN_KEYS, values, config), command))
    elif path.is_file():
        settings = read_recipe(path, TRAIN_KEYS)
        if settings.get("epochs") != config.epochs:
            write_text_atomic(path, recipe_text(TRAIN_KEYS, {**settings, "epochs": config.epochs}, command))


def _keeping_recipe(run: TrainRunOptions, request: TrainRequest, config: TrainConfig) -> TrainRunOptions:
    """`run`, writing recipe.toml when training starts: after the data were read, so that refused input leaves
    no folder behind."""
    def on_start(*progress):
        if run.engine is None or run.engine.is_main:
            keep_recipe(request, config, run.resume)
        if run.on_start:
            run.on_start(*progress)
    return replace(run, on_start=on_start)


def train_player(request: TrainRequest, config: TrainConfig, run: TrainRunOptions) -> dict:
    """Train (or, with run.resume, continue) the requested player; returns fit()'s summary."""
    from cmx_bench.train.players import train_ap, train_classifier

    if request.player not in PLAYERS:
        raise UnknownNameError(f"unknown player '{request.player}'; choose ap, rf or ms")
    if not run.resume and (Path(request.out) / "history.json").exists():
        # A new run would overwrite the earlier one's checkpoints epoch by epoch: hours of GPU time, gone.
        raise OutputError(f"{request.out} already holds a training run; continue it with 'cmx-bench train "
                          f"{request.player} --resume {request.out}', or pass another --out")
    run = _keeping_recipe(run, request, config)
    if request.player == "ap":
        return train_ap(request.data, request.out, config, init=request.init, run=run,
                        trust_pickle=request.trust_pickle)
    return train_classifier(request.model_name, request.data, request.out, config,
                            teacher=request.teacher if request.player == "ms" else None, init=request.init,
                            skip_bad=request.skip_bad, cache=request.cache, snapshots=request.snapshots, run=run,
                            trust_pickle=request.trust_pickle)
