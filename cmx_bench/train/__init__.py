"""Losses (PC, ArcFace, softmax), distillation (Eq. 2) and the AP / RF / MS training loops."""
