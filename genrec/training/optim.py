"""Optimizer and learning-rate schedule, configured through gin."""

from __future__ import annotations

from collections.abc import Iterable

import gin
import torch


@gin.configurable
def adamw(
    parameters: Iterable[torch.nn.Parameter],
    *,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW over `parameters` (the reference setup: betas 0.9/0.98, no decay)."""
    return torch.optim.AdamW(
        parameters, lr=learning_rate, betas=betas, eps=eps, weight_decay=weight_decay
    )


@gin.configurable
def linear_warmup(
    optimizer: torch.optim.Optimizer, *, warmup_steps: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Ramp the learning rate linearly over `warmup_steps`, then hold it constant."""

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
