"""The paper's losses: Probabilistically Compact (Eq. 1), ArcFace, softmax cross-entropy, and distillation (Eq. 2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pc_loss(logits: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Eq. 1: 1/N sum_i sum_{j != y_i} max(0, f_j(x_i) + xi - f_{y_i}(x_i)) over softmax probabilities f."""
    probs = F.softmax(logits, dim=1)
    target = probs.gather(1, labels[:, None])
    hinge = torch.clamp(probs + margin - target, min=0.0)
    hinge = hinge.scatter(1, labels[:, None], 0.0)  # the target class itself is not penalised
    return hinge.sum(dim=1).mean()


def arcface_loss(cosines: torch.Tensor, labels: torch.Tensor, scale: float = 30.0, margin: float = 0.5) -> torch.Tensor:
    """Additive angular margin (Deng et al.): cross-entropy of s*cos(theta_y + m) against s*cos(theta_j)."""
    cosines = cosines.clamp(-1 + 1e-7, 1 - 1e-7)
    theta = torch.acos(cosines.gather(1, labels[:, None]))
    # Past pi - m, cos(theta + m) would rise again; fall back to the CosFace-style penalty there.
    with_margin = torch.where(theta + margin < math.pi, torch.cos(theta + margin),
                              cosines.gather(1, labels[:, None]) - margin * math.sin(margin))
    logits = cosines.scatter(1, labels[:, None], with_margin) * scale
    return F.cross_entropy(logits, labels)


def softmax_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                      alpha: float, temperature: float, student_loss, student_loss_at_t: bool = True) -> torch.Tensor:
    """Eq. 2: alpha * t^2 * KL(S^t(x), T^t(x)) + (1 - alpha) * l(S^t(x), y).

    S^t and T^t are the softened distributions softmax(z / t). The divergence is taken with the
    teacher's distribution as the target (KL(T^t || S^t), Hinton et al.'s and the reference code's
    choice; the paper writes the pair as KL(S, T)). The student loss sees the softened student
    outputs S^t, as Eq. 2 writes it; with `student_loss_at_t=False` it sees the plain outputs S^1, as
    Hinton et al. and most distillation code do. `student_loss(logits, labels)` is one of the losses above.
    """
    t = float(temperature)
    soft_student = F.log_softmax(student_logits / t, dim=1)
    soft_teacher = F.softmax(teacher_logits.detach() / t, dim=1)
    divergence = F.kl_div(soft_student, soft_teacher, reduction="batchmean")
    hard_logits = student_logits / t if student_loss_at_t else student_logits
    return alpha * t * t * divergence + (1.0 - alpha) * student_loss(hard_logits, labels)
