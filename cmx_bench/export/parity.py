"""Compare an artifact's probabilities with the eager network's on the same tensors."""

from __future__ import annotations

import torch

FP32_MAX_DELTA = 1e-4


def compare_outputs(reference: torch.Tensor, candidate: torch.Tensor) -> dict:
    """Max |delta prob| and argmax agreement between two (N, C) probability tensors."""
    reference, candidate = reference.detach().float(), candidate.detach().float()
    return {
        "inputs": int(reference.shape[0]),
        "max_abs_delta_prob": float((reference - candidate).abs().max()),
        "argmax_agreement": float((reference.argmax(1) == candidate.argmax(1)).float().mean()),
    }


def check_parity(eager, artifact_fn, inputs: list[torch.Tensor], max_delta: float, min_agreement: float) -> dict:
    with torch.no_grad():
        reference = torch.cat([eager(x) for x in inputs])
    candidate = torch.cat([artifact_fn(x) for x in inputs])
    result = compare_outputs(reference, candidate)
    result.update(max_delta_threshold=max_delta, min_agreement_threshold=min_agreement)
    result["passed"] = result["max_abs_delta_prob"] <= max_delta and result["argmax_agreement"] >= min_agreement
    return result
