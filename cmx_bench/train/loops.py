"""The training loop shared by the three players: train_one_epoch, validate, and fit, which strings them together."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from cmx_bench.data.datasets import one_line
from cmx_bench.errors import CmxError, DataError
from cmx_bench.train.averaging import weight_average
from cmx_bench.train.checkpoints import CheckpointSaver, TrainingState
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


def use_bn_refresh(config: TrainConfig, train_images: int) -> bool:
    if config.bn_refresh == "auto":
        return train_images <= BN_REFRESH_AUTO_LIMIT
    return config.bn_refresh == "on"




@dataclass
class EpochPlan:
    """What every epoch of a run does alike: the data it trains and validates on, the loss, the validation figures,
    BatchNorm's refresh, and where it runs."""

    train_set: object
    val_set: object
    config: TrainConfig
    engine: Engine
    batch_loss: object                 # batch_loss(logits, x, y)
    score: object                      # score(outputs, targets), higher is better
    val_loss: object                   # val_loss(outputs, targets)
    refresh_bn: bool
    workers: int = 0
    sample_weights: list[float] | None = None
    on_batch: object = None


def training_state(model, plan: EpochPlan, sync_bn: bool = False) -> TrainingState:
    """The network on its device (in DDP across ranks) with its optimizer, schedule, grad scaler and weight average."""
    model = plan.engine.prepare(model, sync_bn=sync_bn)
    optimizer = make_optimizer(model, plan.config)
    steps_per_epoch = len(train_loader(plan.train_set, plan.config, plan.engine, 0, 0, plan.sample_weights))
    return TrainingState(model, optimizer, make_scheduler(optimizer, plan.config, steps_per_epoch),
                         plan.engine.grad_scaler(), weight_average(unwrap(model), plan.config.ema))


def run_meta(meta: dict, plan: EpochPlan) -> dict:
    """What the checkpoints and history record about a run: the player's facts, the recipe and where it ran."""
    return {**meta, "config": asdict(plan.config), "teacher": meta.get("teacher"),
            "score": getattr(plan.score, "__name__", ""), "engine": plan.engine.facts(), "bn_refresh": plan.refresh_bn,
            "workers": plan.workers}


def validate(model, plan: EpochPlan) -> tuple[float, float]:
    """The plan's score and validation loss for `model` on the validation set."""
    outputs, targets = predict(model, plan.val_set, plan.engine, workers=plan.workers)
    return plan.score(outputs, targets), plan.val_loss(outputs, targets)


def run_epoch(epoch: int, state: TrainingState, plan: EpochPlan) -> dict:
    """Train one epoch, refresh BatchNorm when the plan says so, and validate; returns the epoch's history row."""
    engine, started = plan.engine, time.time()
    loader = train_loader(plan.train_set, plan.config, engine, epoch, plan.workers, plan.sample_weights)
    try:
        total, seen = train_one_epoch(state.model, loader, plan.batch_loss, state.optimizer, state.scheduler,
                                      state.scaler, engine, plan.on_batch, state.average)
    except DataError as exc:
        raise one_line(exc) from None
    train_seconds = time.time() - started
    total, seen = engine.sum_across_ranks(total, seen)
    refresh_started = time.time()
    if plan.refresh_bn:
        # Small data sets give BatchNorm's running averages too few steps to settle: recompute them over this
        # epoch's training data (as SWA does) so that evaluation mode matches what was learned.
        update_bn(loader, unwrap(state.evaluated), device=engine.device)
    refresh_seconds = time.time() - refresh_started
    val_score, val_loss = validate(state.evaluated, plan)
    row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_score": val_score, "val_loss": val_loss,
           "lr": state.optimizer.param_groups[0]["lr"], "images_per_s": seen / max(train_seconds, 1e-9),
           "train_seconds": train_seconds, "bn_refresh_seconds": refresh_seconds, "seconds": time.time() - started}
    check_converging(row)
    return row


def check_converging(row: dict) -> None:
    """Stop a run whose loss has become NaN or infinite: every later epoch would be wasted, and no record holds NaN."""
    for name in ("train_loss", "val_loss", "val_score"):
        if not math.isfinite(row[name]):
            raise CmxError(f"training diverged at epoch {row['epoch']}: {name.replace('_', ' ')} is {row[name]}; "
                           "start again with a lower --lr (the earlier epochs' checkpoints are kept)")


def fit(model, train_set, val_set, config: TrainConfig, out_dir: Path, meta: dict, *, batch_loss=None,
        score=accuracy_score, val_loss=cross_entropy_value, teacher=None, run: TrainRunOptions | None = None,
        sample_weights: list[float] | None = None) -> dict:
    """Train `model`; keeps out_dir/best.pth (best validation epoch) and last.pth (everything needed to resume)
    through a CheckpointSaver (train/checkpoints.py), and history.json, metrics.csv and curves.png (main rank only).

    `batch_loss(logits, x, y)` defaults to the config's loss, in Eq. 2 (alpha, temperature from the config)
    when a `teacher` is given; every epoch records `score(outputs, targets)` (higher is better) and
    `val_loss(outputs, targets)` on the validation set, and `config.select` says which of the two picks best.pth;
    `sample_weights` (one per training sample) draws each epoch's samples in proportion to them.
    With `config.ema`, validation scores and best.pth hold the weights' moving average (train/averaging.py).
    Ctrl-C stops between batches; last.pth then holds the last finished epoch, and `run.resume` continues it.
    """
    run = run or TrainRunOptions()
    engine = run.engine or Engine(torch.device("cpu"))
    torch.manual_seed(config.seed)
    if teacher is not None:
        teacher = teacher.to(engine.device)
    plan = EpochPlan(train_set, val_set, config, engine, batch_loss or classification_batch_loss(config, teacher),
                     score, val_loss, use_bn_refresh(config, len(train_set)), run.workers, sample_weights, run.on_batch)
    state = training_state(model, plan, run.sync_bn)
    saver = CheckpointSaver(out_dir, state, run_meta(meta, plan), select=config.select, is_main=engine.is_main)
    first_epoch = saver.restore() if run.resume else 1
    if saver.finished(config.epochs):  # returns before RunLog, which would rewrite the run's files
        return saver.summary(interrupted=False)
    log = RunLog(out_dir, enabled=engine.is_main, tensorboard=run.tensorboard)
    if run.on_start:
        run.on_start(first_epoch, config.epochs, len(train_set))
    interrupted = False
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            row = run_epoch(epoch, state, plan)
            saver.save_epoch(row)
            log.epoch(row, saver.progress())
            if run.on_epoch:
                run.on_epoch(row, saver.best)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        log.close()
    summary = saver.summary(interrupted)
    log.finish({**summary, "meta": saver.meta})
    return summary
