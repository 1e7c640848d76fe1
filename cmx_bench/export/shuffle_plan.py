"""ShuffleNetV2 with its channel shuffles planned away at export: the same function, each block reading channel pieces."""

# Why: torchvision's channel_shuffle is a view through (N, 2, C/2, H, W) and a transpose, and ExecuTorch 1.5.1's
# XNNPACK channels-last pass runs every view on NCHW data while the convolutions run on NHWC, so each block pays
# transposes both ways. A shuffle only relabels channels. So this module works out, once and from the channel counts
# alone, which channels of which earlier tensor each logical channel is (a list of pieces), and materialises only
# what a convolution reads: a concatenation of slices, in whatever order the pieces lie, with that convolution's
# weight permuted to match. The half a block passes through is never copied until a branch or conv5 reads it.

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

# XNNPACK 1.5.1 serialises concatenations of 2 to 5 tensors.
_MAX_CAT_INPUTS = 5


@dataclass(frozen=True)
class Piece:
    """Channels start:stop of produced tensor `source`; logical[i] is the network's index of its i-th channel, in
    increasing order (a shuffle and a channel split both keep that order, so a split cuts each piece in two)."""
    source: int
    start: int
    logical: tuple[int, ...]

    @property
    def stop(self) -> int:
        return self.start + len(self.logical)


def whole(source: int, channels: int) -> Piece:
    """All of a produced tensor, in its own order."""
    return Piece(source, 0, tuple(range(channels)))


def split_halves(pieces: list[Piece], half: int) -> tuple[list[Piece], list[Piece]]:
    """x.chunk(2, dim=1) of the activation the pieces make up: logical channels below `half`, and the rest
    renumbered from 0."""
    first, second = [], []
    for piece in pieces:
        cut = sum(1 for channel in piece.logical if channel < half)
        if cut:
            first.append(Piece(piece.source, piece.start, piece.logical[:cut]))
        if cut < len(piece.logical):
            second.append(Piece(piece.source, piece.start + cut,
                                tuple(channel - half for channel in piece.logical[cut:])))
    return first, second


def shuffled_concat(first: list[Piece], second: list[Piece]) -> list[Piece]:
    """channel_shuffle(cat((a, b), 1), 2) with a and b of equal width: a's channel j becomes 2j, b's 2j + 1."""
    return ([Piece(p.source, p.start, tuple(2 * c for c in p.logical)) for p in first]
            + [Piece(p.source, p.start, tuple(2 * c + 1 for c in p.logical)) for p in second])


def gather(pieces: list[Piece]) -> tuple[Ranges, list[int]]:
    """The (source, start, stop) ranges to concatenate, neighbours of one source merged, and the logical channel of
    each channel of the result (the permutation its reader's weight must follow)."""
    ranges: list[list[int]] = []
    for piece in pieces:
        if ranges and ranges[-1][0] == piece.source and ranges[-1][2] == piece.start:
            ranges[-1][2] = piece.stop
        else:
            ranges.append([piece.source, piece.start, piece.stop])
    order = [c for piece in pieces for c in piece.logical]
    assert sorted(order) == list(range(len(order))), "the pieces must hold every channel once"
    return tuple(tuple(r) for r in ranges), order


@torch.no_grad()
def _permute_inputs(conv: nn.Conv2d, order: list[int]) -> None:
    """A convolution's input channels, in `order` (it reads channel order[p] of the network as its p-th)."""
    conv.weight.copy_(conv.weight[:, order])


@torch.no_grad()
def _permute_channels(module: nn.Module, order: list[int]) -> None:
    """A depthwise convolution's or a batch norm's per-channel tensors, in `order`."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        tensor = getattr(module, name, None)
        if tensor is not None:
            tensor.copy_(tensor[order])


Ranges = tuple[tuple[int, int, int], ...]  # (source, start, stop) channel ranges, concatenated in this order


def read_ranges(sources: list[torch.Tensor], ranges: Ranges) -> torch.Tensor:
    """The channel ranges (source, start, stop) of `sources`, concatenated: a source read whole is not sliced."""
    parts = [sources[s] if start == 0 and stop == sources[s].shape[1] else sources[s][:, start:stop]
             for s, start, stop in ranges]
    while len(parts) > _MAX_CAT_INPUTS:
        # The oldest pieces come first and are the smallest (halved at every block since): they are copied twice.
        inner = min(len(parts) - _MAX_CAT_INPUTS + 1, _MAX_CAT_INPUTS)
        parts = [torch.cat(parts[:inner], 1), *parts[inner:]]
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


class PlannedBlock(nn.Module):
    """One InvertedResidual: its branches (weights permuted to the order they read) and the ranges each reads;
    returns the tensors it produces, which the plan's later pieces point into."""

    def __init__(self, block: nn.Module, reads: Ranges):
        super().__init__()
        self.stride = block.stride
        self.branch1, self.branch2 = block.branch1, block.branch2
        self.reads = reads

    def forward(self, sources: list[torch.Tensor]) -> list[torch.Tensor]:
        x = read_ranges(sources, self.reads)
        return [self.branch1(x), self.branch2(x)] if self.stride > 1 else [self.branch2(x)]


class PlannedShuffleNetV2(nn.Module):
    """torchvision's ShuffleNetV2 without a channel shuffle (module names kept, so profiles map to the same
    modules); `shuffles` is how many it planned away. Takes over `net`'s modules and permutes their weights."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.conv1, self.maxpool, self.conv5, self.fc = net.conv1, net.maxpool, net.conv5, net.fc
        pieces, produced, self.shuffles = [whole(0, net.conv1[0].out_channels)], 1, 0
        for stage_name in ("stage2", "stage3", "stage4"):
            planned = []
            for block in getattr(net, stage_name):
                if block.stride > 1:
                    reads, order = gather(pieces)
                    _permute_channels(block.branch1[0], order)
                    _permute_channels(block.branch1[1], order)
                    _permute_inputs(block.branch1[2], order)
                    _permute_inputs(block.branch2[0], order)
                    width = block.branch2[0].out_channels
                    pieces = shuffled_concat([whole(produced, width)], [whole(produced + 1, width)])
                    produced += 2
                else:
                    width = block.branch2[0].in_channels
                    first, second = split_halves(pieces, width)
                    reads, order = gather(second)
                    _permute_inputs(block.branch2[0], order)
                    pieces = shuffled_concat(first, [whole(produced, width)])
                    produced += 1
                planned.append(PlannedBlock(block, reads))
                self.shuffles += 1
            setattr(self, stage_name, nn.Sequential(*planned))
        self.head_reads, order = gather(pieces)
        _permute_inputs(self.conv5[0], order)
        self.train(net.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sources = [self.maxpool(self.conv1(x))]
        for stage in (self.stage2, self.stage3, self.stage4):
            for block in stage:
                sources = sources + block(sources)
        x = self.conv5(read_ranges(sources, self.head_reads))
        return self.fc(x.mean([2, 3]))


def _plannable(module: nn.Module) -> bool:
    """torchvision's own ShuffleNetV2 of its own blocks: a subclass (the quantizable one) or custom blocks may
    compute something else around them, so they are left as they are."""
    from torchvision.models.shufflenetv2 import InvertedResidual, ShuffleNetV2

    return type(module) is ShuffleNetV2 and all(
        type(block) is InvertedResidual for stage in (module.stage2, module.stage3, module.stage4) for block in stage)


def plan_shuffles(model: nn.Module) -> tuple[nn.Module, int]:
    """The model with every torchvision ShuffleNetV2 in it replaced by its planned form (a copy; `model` is left as
    it is), and how many channel shuffles that removed; the model itself when it has none."""
    if _plannable(model):
        planned = PlannedShuffleNetV2(copy.deepcopy(model))
        return planned, planned.shuffles
    # Every name, shared modules included: one network held under two names must be replaced under both.
    targets = [name for name, module in model.named_modules(remove_duplicate=False) if _plannable(module)]
    if not targets:
        return model, 0
    model, removed, planned_of = copy.deepcopy(model), 0, {}
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        original = getattr(parent, child)
        if id(original) not in planned_of:  # the weights are permuted in place: plan each network once
            planned_of[id(original)] = PlannedShuffleNetV2(original)
            removed += planned_of[id(original)].shuffles
        setattr(parent, child, planned_of[id(original)])
    return model, removed
