"""An exponential moving average of the weights, evaluated and kept instead of the raw ones (timm's ModelEma idea)."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """A copy of `model` that moves `1 - decay` of the way towards it at every update (None when decay is 0).

    BatchNorm's running statistics are averaged with the weights (use_buffers). Averaged statistics only
    approximate those of the averaged weights; when the weights still move a lot (small data, few steps), the
    training loop's BatchNorm refresh recomputes them for the average."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
