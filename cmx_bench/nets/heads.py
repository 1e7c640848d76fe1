"""Classifier heads: swap a network's last linear layer(s) for scaled cosine heads (ArcFace training)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cmx_bench.errors import CmxError


class ScaledCosineHead(nn.Module):
    """s * cos(theta) between L2-normalised features and class weights; ArcFace adds its margin in the loss."""

    def __init__(self, in_features: int, num_classes: int, scale: float = 30.0):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * F.linear(F.normalize(features), F.normalize(self.weight))


def use_cosine_heads(model: nn.Module, scale: float = 30.0) -> nn.Module:
    """Replace the final linear classifier in place; models with a convolutional classifier are refused."""
    from cmx_bench.nets.cxr_densenet import HeadedDenseNet

    if isinstance(model, HeadedDenseNet):
        for name, head in list(model.heads.items()):
            model.heads[name] = ScaledCosineHead(head.in_features, 1, scale)
        return model
    for parent, attribute in ((model, "fc"), (getattr(model, "classifier", None), "1")):
        if parent is None:
            continue
        layer = getattr(parent, attribute, None) if attribute != "1" else (parent[1] if len(parent) > 1 else None)
        if isinstance(layer, nn.Linear):
            head = ScaledCosineHead(layer.in_features, layer.out_features, scale)
            if attribute == "1":
                parent[1] = head
            else:
                setattr(parent, attribute, head)
            return model
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential) and len(classifier) > 1 and isinstance(classifier[1], nn.Conv2d):
        # SqueezeNet classifies with a 1x1 convolution before pooling; ArcFace needs an embedding, so pool
        # the 512 feature maps first and put the cosine head on that vector.
        conv = classifier[1]
        model.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                         ScaledCosineHead(conv.in_channels, conv.out_channels, scale))
        return model
    raise CmxError(f"{type(model).__name__} has no classifier that cmx-bench can give an ArcFace cosine head; "
                   "train it with --loss pc or --loss softmax")
