import numpy as np

from genrec.training.sampler import EpochBatches, shard_rows, step_seed


def _epoch(rows, rank, world_size, epoch, batch_size=3, seed=7):
    batches = EpochBatches(
        rows, batch_size, seed=seed, rank=rank, world_size=world_size
    )
    return batches, [
        batches.batch(epoch, step).tolist() for step in range(batches.steps_per_epoch)
    ]


def test_ranks_take_equal_steps_and_cover_every_row():
    rows = np.arange(10, 21)  # 11 rows: not a multiple of the world size
    seen = []
    steps = set()
    for rank in range(2):
        batches, epoch_batches = _epoch(rows, rank, 2, epoch=0)
        steps.add(batches.steps_per_epoch)
        seen += [row for batch in epoch_batches for row in batch]
    assert steps == {2}
    assert sorted(set(seen)) == rows.tolist()
    assert len(seen) == 12  # one row repeated to even out the ranks


def test_order_is_a_function_of_seed_and_epoch():
    rows = np.arange(50)
    _, first = _epoch(rows, 0, 1, epoch=3)
    _, again = _epoch(rows, 0, 1, epoch=3)
    _, other_epoch = _epoch(rows, 0, 1, epoch=4)
    assert first == again
    assert first != other_epoch
    batches = EpochBatches(rows, 3, seed=7, rank=0, world_size=1)
    assert batches.batch(3, 5).tolist() == first[5]  # random access, as on resume


def test_evaluation_shards_hold_every_row_once():
    rows = np.arange(17)
    shards = [shard_rows(rows, rank, 3) for rank in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == rows.tolist()


def test_step_seeds_differ_by_step_and_rank():
    seeds = {step_seed(1, step, rank) for step in range(100) for rank in range(4)}
    assert len(seeds) == 400
    assert step_seed(1, 5, 0) == step_seed(1, 5, 0)
