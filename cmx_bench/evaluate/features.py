"""Penultimate features (for t-SNE) and the last convolutional layer (for Grad-CAM) of each network."""

from __future__ import annotations

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


def penultimate_features(model: nn.Module, batches) -> torch.Tensor:
    """Flattened inputs of the classifier module for every batch, concatenated."""
    captured = []
    hook = classifier_module(model).register_forward_pre_hook(
        lambda module, args: captured.append(torch.flatten(nn.functional.adaptive_avg_pool2d(args[0], 1), 1)
                                             if args[0].dim() == 4 else args[0].detach()))
    try:
        model.eval()
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        hook.remove()
    return torch.cat(captured)
