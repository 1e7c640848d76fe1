import math

import pytest
import torch
import torch.nn.functional as F

from cmx_bench.train.losses import arcface_loss, distillation_loss, pc_loss, softmax_loss


def test_pc_loss_against_a_hand_computation():
    # Probabilities chosen directly: logits = log(p) gives softmax(logits) = p.
    probs = torch.tensor([[0.7, 0.2, 0.1],    # y=0: margin 0.3 -> j=1: 0.2+0.3-0.7=-0.2 -> 0; j=2: -0.3 -> 0
                          [0.3, 0.5, 0.2],    # y=2: j=0: 0.3+0.3-0.2=0.4; j=1: 0.5+0.3-0.2=0.6
                          [0.25, 0.45, 0.3]])  # y=1: j=0: 0.25+0.3-0.45=0.1; j=2: 0.3+0.3-0.45=0.15
    labels = torch.tensor([0, 2, 1])
    expected = (0.0 + (0.4 + 0.6) + (0.1 + 0.15)) / 3
    assert pc_loss(probs.log(), labels, margin=0.3).item() == pytest.approx(expected, abs=1e-6)


def test_pc_loss_sample_meeting_the_margin_contributes_zero():
    confident = torch.tensor([[0.98, 0.01, 0.01]]).log()
    assert pc_loss(confident, torch.tensor([0]), margin=0.8).item() == pytest.approx(0.0, abs=1e-7)
    both = torch.cat([confident, torch.tensor([[0.2, 0.5, 0.3]]).log()])
    alone = pc_loss(torch.tensor([[0.2, 0.5, 0.3]]).log(), torch.tensor([1]), margin=0.8)
    assert pc_loss(both, torch.tensor([0, 1]), margin=0.8).item() == pytest.approx(alone.item() / 2, abs=1e-6)


def test_distillation_loss_against_a_direct_computation():
    torch.manual_seed(0)
    student, teacher = torch.randn(4, 3), torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 1])
    alpha, t = 0.6, 5.0
    p_teacher = torch.softmax(teacher / t, dim=1)
    p_student = torch.softmax(student / t, dim=1)
    kl = (p_teacher * (p_teacher.log() - p_student.log())).sum(dim=1).mean()
    ce = -torch.log(p_student[torch.arange(4), labels]).mean()
    expected = alpha * t * t * kl + (1 - alpha) * ce
    got = distillation_loss(student, teacher, labels, alpha=alpha, temperature=t, student_loss=softmax_loss)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_distillation_as_hinton_puts_the_hard_label_loss_on_the_plain_outputs():
    torch.manual_seed(1)
    student, teacher = torch.randn(4, 3), torch.randn(4, 3)
    labels = torch.tensor([2, 0, 1, 1])
    alpha, t = 0.8, 5.0
    soft_part = distillation_loss(student, teacher, labels, alpha=alpha, temperature=t, student_loss=softmax_loss) \
        - (1 - alpha) * F.cross_entropy(student / t, labels)
    got = distillation_loss(student, teacher, labels, alpha=alpha, temperature=t, student_loss=softmax_loss,
                            student_loss_at_t=False)
    assert got.item() == pytest.approx((soft_part + (1 - alpha) * F.cross_entropy(student, labels)).item(), rel=1e-5)


def test_distillation_with_alpha_zero_is_the_student_loss_alone():
    student, teacher = torch.randn(5, 3), torch.randn(5, 3)
    labels = torch.tensor([0, 1, 2, 0, 1])
    got = distillation_loss(student, teacher, labels, alpha=0.0, temperature=1.0, student_loss=softmax_loss)
    assert got.item() == pytest.approx(F.cross_entropy(student, labels).item(), rel=1e-6)


def test_arcface_adds_the_angular_margin_to_the_target_only():
    cosines = torch.tensor([[0.5, 0.2, -0.1]])
    labels = torch.tensor([0])
    s, m = 10.0, 0.3
    target = math.cos(math.acos(0.5) + m)
    logits = torch.tensor([[target, 0.2, -0.1]]) * s
    assert arcface_loss(cosines, labels, scale=s, margin=m).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert arcface_loss(cosines, labels, scale=s, margin=m) > F.cross_entropy(cosines * s, labels)
