"""The CUDA path: NCCL ranks, one GPU each, bf16 autocast and the TF32 switch.

Skipped on machines without a GPU (CI has none); run on a GPU host with
`python3.11 dev.py test tests/training/test_gpu.py` after installing the `cuda`
extra.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from genrec.distributed import DistContext, launch
from genrec.training.gin_config import parse_resolved, resolve_config
from genrec.training.runs import RunPaths
from genrec.training.trainer import Trainer, TrainingRun

from .conftest import TINY_CONFIG, planted_histories, write_sequences

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)"
)


def _train_on_gpu(ctx: DistContext, paths: RunPaths) -> list[dict]:
    """Train on this rank's GPU; report where it ran and with which numerics."""
    parse_resolved(paths.config)
    run = TrainingRun(Trainer(), ctx, paths)
    metrics = run.execute()
    report = {
        "backend": ctx.backend,
        "device": str(ctx.device),
        "parameter_devices": sorted({str(p.device) for p in run.model.parameters()}),
        "allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "test_ndcg_at_10": metrics["test/ndcg@10"],
    }
    if not ctx.is_distributed:
        return [report]
    gathered: list[dict] = [{} for _ in range(ctx.world_size)]
    dist.all_gather_object(gathered, report)
    return gathered


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("planted")
    return write_sequences(folder, planted_histories(), num_items=60)


@pytest.mark.parametrize("tf32", [True, False])
def test_ranks_train_on_their_own_gpu_with_bf16_and_the_tf32_switch(
    planted, tmp_path, tf32
):
    world_size = min(2, torch.cuda.device_count())
    config = resolve_config(
        [TINY_CONFIG],
        ["Trainer.bf16 = True", f"Trainer.tf32 = {tf32}"],
        num_items=60,
    )
    paths = RunPaths(run_dir=tmp_path, data_dir=planted, config=config, resume=False)

    reports = launch(_train_on_gpu, (paths,), world_size=world_size)

    assert reports is not None and len(reports) == world_size
    for rank, report in enumerate(reports):
        assert report["backend"] == "nccl"
        assert report["device"] == f"cuda:{rank}"
        assert report["parameter_devices"] == [f"cuda:{rank}"]
        assert report["allow_tf32"] is tf32
        assert math.isfinite(report["test_ndcg_at_10"])
