"""Forward+backward throughput of the HSTU and SASRec encoders at ML-1M sizes.

Measures sequences per second for (a) the encoder alone and (b) a whole training
step of RetrievalModel (embedding -> encoder -> sampled softmax with 128 uniform
negatives over 3,706 items -> backward -> Adam), on full-length histories
(batch 128, length 200, dim 50, 2 blocks, 1 head). Prints a table and writes
benchmarks/results/encoders.json. ``--batch`` and ``--length`` shrink the run
for a smoke test.

    python benchmarks/encoders.py [--device cuda] [--bf16] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import time
from pathlib import Path

import psutil
import torch

from genrec.modeling.batch import SequenceBatch
from genrec.modeling.embeddings import LocalEmbedding
from genrec.modeling.encoders import HSTUEncoder, SASRecEncoder, SequenceEncoder
from genrec.modeling.losses import SampledSoftmaxLoss
from genrec.modeling.model import RetrievalModel
from genrec.modeling.negatives import UniformNegativeSampler
from genrec.modeling.postprocessors import L2NormPostprocessor
from genrec.modeling.preprocessors import LearnablePositionalPreprocessor
from genrec.modeling.similarity import DotProductSimilarity

logger = logging.getLogger("benchmarks.encoders")

RESULTS = Path(__file__).resolve().parent / "results" / "encoders.json"
NUM_ITEMS = 3706  # ML-1M catalogue
DIM = 50
LENGTH = 200
BATCH = 128


def make_encoder(name: str, length: int) -> SequenceEncoder:
    if name == "hstu":
        return HSTUEncoder(
            embedding_dim=DIM,
            num_blocks=2,
            num_heads=1,
            attention_dim=DIM,
            linear_dim=DIM,
            max_length=length,
        )
    return SASRecEncoder(embedding_dim=DIM, num_blocks=2, num_heads=1)


def make_model(name: str, length: int) -> RetrievalModel:
    return RetrievalModel(
        embedding=LocalEmbedding(NUM_ITEMS, DIM),
        preprocessor=LearnablePositionalPreprocessor(length, DIM),
        encoder=make_encoder(name, length),
        postprocessor=L2NormPostprocessor(),
        similarity=DotProductSimilarity(),
        loss=SampledSoftmaxLoss(temperature=0.05),
        negative_sampler=UniformNegativeSampler(num_negatives=128),
    )


def make_batch(device: torch.device, batch_size: int, length: int) -> SequenceBatch:
    generator = torch.Generator().manual_seed(0)
    items = torch.randint(1, NUM_ITEMS + 1, (batch_size, length), generator=generator)
    gaps = torch.randint(0, 86_400, (batch_size, length), generator=generator)
    times = 978_300_000 + gaps.cumsum(1)
    batch = SequenceBatch.from_sequences(
        items.tolist(),
        times.tolist(),
        target_ids=items[:, -1].tolist(),
        max_length=length,
    )
    return batch.to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device: torch.device, steps: int, warmup: int) -> float:
    """Return the median seconds of one call of ``step`` over ``steps`` calls."""
    for _ in range(warmup):
        step()
    durations = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        durations.append(time.perf_counter() - start)
    return sorted(durations)[len(durations) // 2]


def bench_encoder(name, device, dtype, batch_size, length, steps, warmup) -> float:
    encoder = make_encoder(name, length).to(device).train()
    batch = make_batch(device, batch_size, length)
    x = torch.randn(batch.total, DIM, device=device, requires_grad=True)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = encoder(x, batch)
        out.float().square().mean().backward()

    return time_steps(step, device, steps, warmup)


def bench_train_step(name, device, dtype, batch_size, length, steps, warmup) -> float:
    model = make_model(name, length).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = make_batch(device, batch_size, length)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return time_steps(step, device, steps, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=BATCH, help="sequences")
    parser.add_argument("--length", type=int, default=LENGTH, help="history length")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    # force: an import (fbgemm_gpu) has already configured the root logger.
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    torch.manual_seed(0)

    rows = []
    for name in ("hstu", "sasrec"):
        for part, bench in (
            ("encoder", bench_encoder),
            ("train_step", bench_train_step),
        ):
            logger.info("timing %s %s", name, part)
            seconds = bench(
                name, device, dtype, args.batch, args.length, args.steps, args.warmup
            )
            rows.append(
                {
                    "encoder": name,
                    "measured": part,
                    "seconds_per_batch": round(seconds, 4),
                    "sequences_per_s": round(args.batch / seconds, 1),
                }
            )

    print(f"{'encoder':8} {'measured':11} {'s/batch':>9} {'seq/s':>9}")
    for row in rows:
        print(
            f"{row['encoder']:8} {row['measured']:11} "
            f"{row['seconds_per_batch']:9.4f} {row['sequences_per_s']:9.1f}"
        )
    report = {
        "sizes": {
            "batch": args.batch,
            "length": args.length,
            "dim": DIM,
            "blocks": 2,
            "heads": 1,
            "num_items": NUM_ITEMS,
            "negatives": 128,
        },
        "device": str(device),
        "dtype": str(dtype),
        "threads": torch.get_num_threads(),
        "cpu_count": psutil.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),  # Linux reports KiB
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
