"""The training loop shared by the three players: train_one_epoch, validate, best/last checkpoints, resume, Eq. 2."""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from cmx_bench.data.datasets import one_line
from cmx_bench.errors import CheckpointError, CmxError, DataError
from cmx_bench.fileio import write_bytes_atomic
from cmx_bench.train.averaging import weight_average
from cmx_bench.train.engine import Engine, unwrap
from cmx_bench.train.losses import arcface_loss, distillation_loss, pc_loss, softmax_loss
from cmx_bench.train.presets import TrainConfig
from cmx_bench.train.run_log import RunLog
from cmx_bench.train.sampling import BalancedSampler, epoch_generator

BN_REFRESH_AUTO_LIMIT = 2000  # training images; above it BatchNorm's running averages settle within the epoch


@dataclass
class TrainRunOptions:
    """How a run executes, as opposed to what it learns (TrainConfig): where, with how many loader workers,
    whether it continues an earlier run, and who is told about progress."""

    engine: Engine | None = None
    workers: int = 0
    resume: bool = False
    tensorboard: bool = False
    sync_bn: bool = False
    on_start: object = None   # on_start(first_epoch, epochs, images_per_epoch) once, before the first batch
    on_epoch: object = None   # on_epoch(row, best) after every epoch, every rank
    on_batch: object = None   # on_batch(images) after every batch, images counted over all ranks


def student_loss_fn(config: TrainConfig):
    """The classification loss l(logits, y) named by the config."""
    if config.loss == "pc":
        return partial(pc_loss, margin=config.margin)
    if config.loss == "softmax":
        return softmax_loss
    if config.loss == "arcface":
        # Cosine heads output s*cos(theta): undo the scale, ArcFace applies its own.
        return lambda logits, labels: arcface_loss(logits / config.arcface_scale, labels,
                                                   scale=config.arcface_scale, margin=config.arcface_margin)
    raise ValueError(f"unknown loss {config.loss}")


def classification_batch_loss(config: TrainConfig, teacher=None):
    """loss(logits, x, y): the config's student loss, wrapped in Eq. 2 when there is a teacher."""
    student_loss = student_loss_fn(config)
    if teacher is None:
        return lambda logits, x, y: student_loss(logits.float(), y)
    teacher.eval()

    def distilled(logits, x, y):
        with torch.no_grad():
            teacher_logits = teacher(x)
        return distillation_loss(logits.float(), teacher_logits.float(), y, alpha=config.alpha,
                                 temperature=config.temperature, student_loss=student_loss,
                                 student_loss_at_t=config.student_loss_at_t)
    return distilled


def accuracy_score(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def cross_entropy_value(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The validation loss of a classifier: softmax cross-entropy against the true labels, whatever loss it trains
    with (PC, ArcFace, Eq. 2), so that the figure means the same for every player and recipe."""
    return float(torch.nn.functional.cross_entropy(logits.float(), labels.long()))


def improves(row: dict, best: dict, select: str) -> bool:
    """Whether this epoch's validation beats the kept one: a higher score, or with select 'loss' a lower loss."""
    if best["epoch"] is None:
        return True
    if select == "loss":
        # A run begun before validation losses were recorded has none for its kept epoch.
        return best.get("val_loss") is None or row["val_loss"] < best["val_loss"]
    return row["val_score"] > best["val_score"]


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer}")


def lr_factor(step: int, *, schedule: str, warmup_steps: int, total_steps: int) -> float:
    """The learning rate's multiple of config.lr at optimizer step `step`: linear warmup, then cosine to 0."""
    if schedule == "constant":
        return 1.0
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    if config.schedule not in ("cosine", "constant"):
        raise ValueError(f"unknown schedule {config.schedule}")
    total = config.epochs * steps_per_epoch
    warmup = min(total, round(config.warmup_epochs * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, schedule=config.schedule,
                                                                warmup_steps=warmup, total_steps=total))


def train_loader(dataset, config: TrainConfig, engine: Engine, epoch: int, workers: int,
                 weights: list[float] | None = None) -> DataLoader:
    """This epoch's batches: the same order for the same (seed, epoch), whether run straight through or resumed;
    with `weights` (train/sampling.py), drawn in proportion to them."""
    if config.batch_size % engine.world_size:
        raise CmxError(f"--batch-size {config.batch_size} does not divide over {engine.world_size} ranks; pass a "
                       f"multiple of {engine.world_size} (it is the global batch)")
    generator = epoch_generator(config.seed, epoch)
    if weights is not None:
        sampler = BalancedSampler(weights, config.seed, epoch, engine.rank, engine.world_size)
    elif engine.distributed:
        sampler = DistributedSampler(dataset, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(dataset, batch_size=config.batch_size // engine.world_size, sampler=sampler,
                      num_workers=workers, generator=generator, pin_memory=engine.device.type == "cuda")


def compute_gradients(model, x, y, batch_loss, engine: Engine, scaler) -> torch.Tensor:
    """Forward and backward for one batch; under DDP the gradients come back averaged over the ranks."""
    with engine.autocast():
        loss = batch_loss(model(x), x, y)
    scaler.scale(loss).backward()
    return loss.detach()


def train_one_epoch(model, loader, batch_loss, optimizer, scheduler, scaler, engine: Engine, on_batch=None,
                    average=None):
    """One pass over this rank's batches, moving the weight `average` (if any) after every step; returns the summed
    loss and the number of images seen on this rank."""
    model.train()
    total, seen = torch.zeros((), device=engine.device), 0
    for x, y in loader:
        x, y = engine.to_device(x), engine.to_device(y)
        optimizer.zero_grad(set_to_none=True)
        loss = compute_gradients(model, x, y, batch_loss, engine, scaler)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if average is not None:
            average.update_parameters(unwrap(model))
        total += loss.float() * len(y)  # kept on the device: reading it every step would stall an accelerator
        seen += len(y)
        if on_batch:
            on_batch(len(y) * engine.world_size)
    return float(total), seen


def predict(model, dataset, engine: Engine, batch_size: int = 64, workers: int = 0):
    """The model's outputs and targets for the whole of `dataset`, each rank predicting a share of it."""
    shard = Subset(dataset, range(engine.rank, len(dataset), engine.world_size))
    model = unwrap(model)  # the bare network: DDP's forward would sync buffers, and shards may differ in length
    model.eval()
    outputs, targets = [], []
    with torch.no_grad(), engine.autocast():
        for x, y in DataLoader(shard, batch_size=batch_size, num_workers=workers):
            outputs.append(model(engine.to_device(x)).float().cpu())
            targets.append(torch.as_tensor(y))
    mine = (torch.cat(outputs) if outputs else torch.empty(0), torch.cat(targets) if targets else torch.empty(0))
    parts = engine.gather_across_ranks(mine)
    return torch.cat([p[0] for p in parts if len(p[0])]), torch.cat([p[1] for p in parts if len(p[1])])


def _checkpoint_bytes(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(model, path: Path, meta: dict) -> None:
    """A weights-only-loadable checkpoint: the state dict plus plain-data facts about how it was made."""
    write_bytes_atomic(path, _checkpoint_bytes({"state_dict": unwrap(model).state_dict(), "cmx_bench": meta}))


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def read_last_checkpoint(out_dir: Path) -> dict:
    path = Path(out_dir) / "last.pth"
    if not path.is_file():
        raise CheckpointError(f"{out_dir} has no last.pth to resume from; start the run without --resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is corrupt ({str(exc).splitlines()[0][:100]}); resume from best.pth "
                              "with --init, or start again") from exc


def use_bn_refresh(config: TrainConfig, train_images: int) -> bool:
    if config.bn_refresh == "auto":
        return train_images <= BN_REFRESH_AUTO_LIMIT
    return config.bn_refresh == "on"


def fit(model, train_set, val_set, config: TrainConfig, out_dir: Path, meta: dict, *, batch_loss=None,
        score=accuracy_score, val_loss=cross_entropy_value, teacher=None, run: TrainRunOptions | None = None,
        sample_weights: list[float] | None = None) -> dict:
    """Train `model`; keeps out_dir/best.pth (best validation epoch), last.pth (everything needed to resume),
    history.json, metrics.csv and curves.png as it goes (main rank only).

    `batch_loss(logits, x, y)` defaults to the config's loss, in Eq. 2 (alpha, temperature from the config)
    when a `teacher` is given; every epoch records `score(outputs, targets)` (higher is better) and
    `val_loss(outputs, targets)` on the validation set, and `config.select` says which of the two picks best.pth;
    `sample_weights` (one per training sample) draws each epoch's samples in proportion to them.
    With `config.ema`, validation scores and best.pth hold the weights' moving average (train/averaging.py).
    Ctrl-C stops between batches; last.pth then holds the last finished epoch, and `run.resume` continues it.
    """
    run = run or TrainRunOptions()
    engine, workers = run.engine or Engine(torch.device("cpu")), run.workers
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    model = engine.prepare(model, sync_bn=run.sync_bn)
    if teacher is not None:
        teacher = teacher.to(engine.device)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = len(train_loader(train_set, config, engine, 0, 0, sample_weights))
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    scaler = engine.grad_scaler()
    batch_loss = batch_loss or classification_batch_loss(config, teacher)
    refresh_bn = use_bn_refresh(config, len(train_set))
    average = weight_average(unwrap(model), config.ema)
    evaluated = model if average is None else average.module  # what validation scores and best.pth keeps
    meta = {**meta, "config": asdict(config), "teacher": meta.get("teacher"), "score": getattr(score, "__name__", ""),
            "engine": engine.facts(), "bn_refresh": refresh_bn, "workers": workers}
    history, best, first_epoch = [], {"val_score": None, "val_loss": None, "epoch": None}, 1
    if run.resume:
        state = read_last_checkpoint(out_dir)
        unwrap(model).load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        if average is not None:
            average.load_state_dict(state["average"])
        history, best, first_epoch = state["history"], state["best"], state["epoch"] + 1
        _restore_rng(state["rng"])
        earlier = {k: v for k, v in state["cmx_bench"].items() if k not in ("epoch", "val_score", "val_loss")}
        meta = {**earlier, "config": meta["config"], "engine": meta["engine"], "workers": workers,
                "resumed_at_epochs": earlier.get("resumed_at_epochs", []) + [first_epoch]}
        if first_epoch > config.epochs:  # a finished run: resuming it changes nothing, on disk either
            return _summary(history, best, False, out_dir)
    log = RunLog(out_dir, enabled=engine.is_main, tensorboard=run.tensorboard)
    if run.on_start:
        run.on_start(first_epoch, config.epochs, len(train_set))
    interrupted = False
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            started = time.time()
            loader = train_loader(train_set, config, engine, epoch, workers, sample_weights)
            try:
                total, seen = train_one_epoch(model, loader, batch_loss, optimizer, scheduler, scaler, engine,
                                              run.on_batch, average)
            except DataError as exc:
                raise one_line(exc) from None
            train_seconds = time.time() - started
            total, seen = engine.sum_across_ranks(total, seen)
            refresh_started = time.time()
            if refresh_bn:
                # Small data sets give BatchNorm's running averages too few steps to settle: recompute them over
                # this epoch's training data (as SWA does) so that evaluation mode matches what was learned.
                update_bn(loader, unwrap(evaluated), device=engine.device)
            refresh_seconds = time.time() - refresh_started
            outputs, targets = predict(evaluated, val_set, engine, workers=workers)
            val_score, val_loss_value = score(outputs, targets), val_loss(outputs, targets)
            row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_score": val_score,
                   "val_loss": val_loss_value, "lr": optimizer.param_groups[0]["lr"],
                   "images_per_s": seen / max(train_seconds, 1e-9), "train_seconds": train_seconds,
                   "bn_refresh_seconds": refresh_seconds, "seconds": time.time() - started}
            history.append(row)
            if improves(row, best, config.select):
                best = {"val_score": val_score, "val_loss": val_loss_value, "epoch": epoch}
                if engine.is_main:
                    save_checkpoint(evaluated, out_dir / "best.pth", {**meta, "epoch": epoch, "val_score": val_score,
                                                                      "val_loss": val_loss_value})
            if engine.is_main:
                write_bytes_atomic(out_dir / "last.pth", _checkpoint_bytes({
                    "state_dict": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "epoch": epoch,
                    "history": history, "best": best, "rng": _rng_states(),
                    "average": None if average is None else average.state_dict(),
                    "cmx_bench": {**meta, "epoch": epoch, "val_score": val_score, "val_loss": val_loss_value}}))
                log.epoch(row, {"history": history, "best": best, "meta": meta})
            if run.on_epoch:
                run.on_epoch(row, best)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        log.close()
    summary = _summary(history, best, interrupted, out_dir)
    log.finish({**summary, "meta": meta})
    return summary


def _summary(history: list[dict], best: dict, interrupted: bool, out_dir: Path) -> dict:
    """What fit() returns: the epochs, the kept one, and where its checkpoints are."""
    return {"history": history, "best": best, "interrupted": interrupted, "checkpoint": str(out_dir / "best.pth"),
            "last": str(out_dir / "last.pth")}
