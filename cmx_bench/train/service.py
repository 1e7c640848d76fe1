"""One entry point for `cmx-bench train`: a new run of a player, or the continuation of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from cmx_bench.errors import CheckpointError, OutputError, UnknownNameError
from cmx_bench.train.loops import TrainRunOptions, read_last_checkpoint
from cmx_bench.train.presets import TrainConfig

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


def train_player(request: TrainRequest, config: TrainConfig, run: TrainRunOptions) -> dict:
    """Train (or, with run.resume, continue) the requested player; returns fit()'s summary."""
    from cmx_bench.train.players import train_ap, train_classifier

    if request.player not in PLAYERS:
        raise UnknownNameError(f"unknown player '{request.player}'; choose ap, rf or ms")
    if not run.resume and (Path(request.out) / "history.json").exists():
        # A new run would overwrite the earlier one's checkpoints epoch by epoch: hours of GPU time, gone.
        raise OutputError(f"{request.out} already holds a training run; continue it with 'cmx-bench train "
                          f"{request.player} --resume {request.out}', or pass another --out")
    if request.player == "ap":
        return train_ap(request.data, request.out, config, init=request.init, run=run)
    return train_classifier(request.model_name, request.data, request.out, config,
                            teacher=request.teacher if request.player == "ms" else None, init=request.init,
                            skip_bad=request.skip_bad, cache=request.cache, snapshots=request.snapshots, run=run)
