"""Distillation terms over the positions that predict a completion token (the student and the
teacher see the same packed batch): the KL of the student's next-token distribution from the
teacher's at a temperature, scaled by T^2 (Hinton et al.), so the gradient's size does not
shrink as T grows; the squared error between their final hidden states; and, for evaluation,
how often their top-1 tokens agree. Sums, not means: the trainer divides by the global
batch's target tokens."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def kl_sum(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """sum over positions of KL(teacher_T || student_T) * T^2, logits [N, V]."""
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return (t.exp() * (t - s)).sum() * temperature**2


def hidden_mse_sum(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """sum over positions of the mean over features of (student - teacher)^2, states [N, H]."""
    return (student.float() - teacher.float()).pow(2).mean(-1).sum()


def top1_agreements(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    return (student_logits.argmax(-1) == teacher_logits.argmax(-1)).sum()
