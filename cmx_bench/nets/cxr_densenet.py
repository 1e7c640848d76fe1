"""The paper's AP and RF networks: DenseNet-121 trunk, a shared FC layer and one FC head per disease or class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

# ChestX-ray8's eight diseases, the AP network's multi-label outputs (Wang et al. 2017).
CHESTXRAY8_DISEASES = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                       "Pneumothorax")
RF_CLASSES = ("covid", "normal", "pneumonia")
SHARED_FEATURES = 512


def _head_name(label: str) -> str:
    return label.lower()


class HeadedDenseNet(nn.Module):
    """DenseNet-121 features -> shared FC + ReLU -> one 1-output FC head per label; logits in label order."""

    def __init__(self, labels: tuple[str, ...], shared_features: int = SHARED_FEATURES):
        super().__init__()
        self.labels = tuple(labels)
        self.features = torchvision.models.densenet121(weights=None).features
        self.shared = nn.Linear(1024, shared_features)
        self.heads = nn.ModuleDict({_head_name(label): nn.Linear(shared_features, 1) for label in self.labels})

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features (after the shared FC), used for t-SNE."""
        maps = F.relu(self.features(x))
        return F.relu(self.shared(torch.flatten(F.adaptive_avg_pool2d(maps, 1), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.embed(x)
        return torch.cat([self.heads[_head_name(label)](shared) for label in self.labels], dim=1)


def ap_network() -> HeadedDenseNet:
    """Attending physician: 8 disease-specific heads, trained multi-label (BCE) on ChestX-ray8."""
    return HeadedDenseNet(CHESTXRAY8_DISEASES)


def rf_network() -> HeadedDenseNet:
    """Resident fellow: COVID / normal / pneumonia heads, softmax over the three logits."""
    return HeadedDenseNet(RF_CLASSES)


def transfer_ap_to_rf(ap: HeadedDenseNet, rf: HeadedDenseNet) -> list[str]:
    """Copy the trunk, the shared FC and the pneumonia head from AP into RF; COVID and normal heads stay new.

    Returns the names of the RF tensors that were overwritten.
    """
    source = ap.state_dict()
    copied = []
    with torch.no_grad():
        for name, tensor in rf.state_dict().items():
            from_ap = name if name.startswith(("features.", "shared.", "heads.pneumonia.")) else None
            if from_ap is not None:
                tensor.copy_(source[from_ap])
                copied.append(name)
    return copied
