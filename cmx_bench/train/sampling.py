"""Balanced sampling: every class drawn equally often per epoch (and, within a class, every source hospital),
the same draws for the same (seed, epoch) whether run in one process or split over torchrun ranks."""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils.data import Sampler


def balanced_weights(labels: list[str], sources: list[str] | None = None) -> tuple[list[float], dict[str, int]]:
    """Sampling weight per sample and the groups' sizes. Each label gets the same total weight; with `sources`,
    a label's weight is shared equally by the sources that have it, so that no source's share of a class is
    something a network can learn to read from the source's look."""
    if sources is None:
        counts = Counter(labels)
        return [1.0 / counts[label] for label in labels], dict(sorted(counts.items()))
    groups = Counter(zip(sources, labels))
    sources_per_label = Counter(label for _, label in groups)
    weights = [1.0 / (sources_per_label[label] * groups[(source, label)]) for source, label in zip(sources, labels)]
    return weights, {f"{source} / {label}": n for (source, label), n in sorted(groups.items())}


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch's draws, the same for the same (seed, epoch) on every rank and after a resume."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


class BalancedSampler(Sampler[int]):
    """`len(weights)` draws with replacement in proportion to `weights`; rank r of N takes draws r, r+N, ...

    Every rank draws the whole epoch from a generator seeded with (seed, epoch) and keeps its share, so the ranks
    together see exactly what one process would.
    """

    def __init__(self, weights: list[float], seed: int, epoch: int, rank: int = 0, world_size: int = 1):
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.seed, self.epoch, self.rank, self.world_size = seed, epoch, rank, world_size
        self.total = len(weights) - len(weights) % world_size  # each rank the same count, as DistributedSampler

    def all_draws(self) -> list[int]:
        return torch.multinomial(self.weights, self.total, replacement=True,
                                 generator=epoch_generator(self.seed, self.epoch)).tolist()

    def __iter__(self):
        return iter(self.all_draws()[self.rank::self.world_size])

    def __len__(self) -> int:
        return self.total // self.world_size
