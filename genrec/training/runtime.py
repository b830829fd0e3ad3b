"""Per-process numerics: seeds, TF32 flags and the bf16 autocast context."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, numpy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_numerics(device: torch.device, *, allow_tf32: bool = True) -> None:
    """Set TF32 on GPU as asked; keep anomaly detection off (it is slow)."""
    torch.autograd.set_detect_anomaly(False)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32
        torch.cuda.set_device(device)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on GPU when `enabled`; a no-op on CPU, which trains in fp32."""
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
