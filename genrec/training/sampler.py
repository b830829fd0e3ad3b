"""Which users each rank sees at each step: a pure function of (seed, epoch, step).

Training order is a seeded permutation per epoch, padded to a multiple of the world
size and dealt round-robin to ranks, so every rank takes the same number of steps
(DDP needs that) and a resumed run replays exactly the batches it would have seen.
Evaluation deals users out without padding, so each is scored exactly once.
"""

from __future__ import annotations

import math

import numpy as np


class EpochBatches:
    """Per-rank training batches of row indices for any (epoch, step in epoch).

    Args:
        rows: (N,) candidate rows (users with something to train on).
        batch_size: users per rank per step.
        seed: base seed of the run.
        rank: this process's global rank.
        world_size: number of ranks.
    """

    def __init__(
        self,
        rows: np.ndarray,
        batch_size: int,
        *,
        seed: int,
        rank: int,
        world_size: int,
    ) -> None:
        if len(rows) == 0:
            raise ValueError("no user has two training items; nothing to train on")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.rows = rows
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.rows_per_rank = math.ceil(len(rows) / world_size)
        self._cached_epoch: int | None = None
        self._shard = rows

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.rows_per_rank / self.batch_size)

    def batch(self, epoch: int, step_in_epoch: int) -> np.ndarray:
        """(B,) rows for this rank at `step_in_epoch` of `epoch` (B <= batch_size)."""
        if self._cached_epoch != epoch:
            self._shard = self._rank_shard(epoch)
            self._cached_epoch = epoch
        start = step_in_epoch * self.batch_size
        return self._shard[start : start + self.batch_size]

    def _rank_shard(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))
        # Pad by wrapping around, as a distributed sampler does.
        order = np.resize(order, self.rows_per_rank * self.world_size)
        return self.rows[order[self.rank :: self.world_size]]


def shard_rows(rows: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rows this rank evaluates: every row lands on exactly one rank."""
    return rows[rank::world_size]


def step_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit seed for the randomness of one training step on one rank."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2, np.uint32)
    return int(state[0]) << 31 ^ int(state[1])
