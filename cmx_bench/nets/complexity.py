"""Parameters and multiply-accumulates of a network, counted by torch.utils.flop_counter (no hand-written counter)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_params_and_macs(model: torch.nn.Module, input_shape) -> dict:
    """Parameters and MACs of one forward pass at `input_shape` (FLOPs / 2: the counter counts a MAC as two)."""
    model = model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(tuple(input_shape)))
    return {"params": sum(p.numel() for p in model.parameters()), "macs": counter.get_total_flops() // 2,
            "input_shape": list(input_shape), "counter": "torch.utils.flop_counter.FlopCounterMode"}
