"""Penultimate features (for t-SNE) and the last convolutional layer (for Grad-CAM) of each network."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def classifier_module(model: nn.Module) -> nn.Module:
    """The module whose input is the penultimate representation."""
    from cmx_bench.nets.cxr_densenet import HeadedDenseNet

    if isinstance(model, HeadedDenseNet):
        return model.shared
    if hasattr(model, "fc"):
        return model.fc  # ShuffleNetV2
    classifier = model.classifier  # MobileNetV2: Dropout, Linear; SqueezeNet: Dropout, Conv, ReLU, Pool
    return classifier[-1] if len(classifier) == 4 and isinstance(classifier[2], nn.Flatten) else classifier[1]


def last_conv_layer(model: nn.Module) -> nn.Module:
    from cmx_bench.nets.cxr_densenet import HeadedDenseNet

    if isinstance(model, HeadedDenseNet):
        return model.features.norm5
    if hasattr(model, "conv5"):
        return model.conv5  # ShuffleNetV2
    return model.features[-1]  # MobileNetV2 and SqueezeNet


@contextlib.contextmanager
def penultimate_features(model: nn.Module):
    """While open, every forward pass of `model` appends its flattened classifier inputs (float32, CPU) to the
    list it yields."""
    captured: list[torch.Tensor] = []

    def keep(module, args):
        features = args[0].detach()
        if features.dim() == 4:
            features = torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1)
        captured.append(features.float().cpu())
    hook = classifier_module(model).register_forward_pre_hook(keep)
    try:
        yield captured
    finally:
        hook.remove()
