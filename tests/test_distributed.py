"""The launcher: spawn and torchrun paths, failures, timeouts, reductions, DDP."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import gin
import pytest
import torch
import torch.distributed as dist

from genrec import distributed
from genrec.distributed import DistContext, RankFailedError, launch

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)
# Seconds from a rank's failure to the caller holding the error (the other rank
# is stopped in between); generous for a loaded 2-core machine.
PROMPT_S = 10.0


def _describe_rank(ctx: DistContext, tag: str) -> dict:
    return {
        "tag": tag,
        "rank": ctx.rank,
        "world_size": ctx.world_size,
        "backend": ctx.backend,
        "pid": os.getpid(),
        "threads": torch.get_num_threads(),
        "ranks_seen": _gather_ranks(ctx),
    }


def _gather_ranks(ctx: DistContext) -> list[int]:
    seen: list[int | None] = [None] * ctx.world_size
    dist.all_gather_object(seen, ctx.rank)
    return [rank for rank in seen if rank is not None]


def _sums(ctx: DistContext) -> dict[str, float]:
    # Rank r contributes r + 1 to "a" and 10 * (r + 1) to "b", count 1 each.
    values = {"a": ctx.rank + 1.0, "b": 10.0 * (ctx.rank + 1), "count": 1.0}
    return distributed.all_reduce_sums(values, ctx)


def _sums_with_rank_keys(ctx: DistContext) -> dict[str, float]:
    return distributed.all_reduce_sums({f"only_on_rank{ctx.rank}": 1.0}, ctx)


def _raise_on_rank_one(ctx: DistContext) -> None:
    if ctx.rank == 1:
        raise ValueError(f"rank one cannot go on: bad shard 7 (at {time.time():.3f})")
    # Rank 0 waits in a collective for a rank that will never arrive.
    distributed.barrier(ctx)
    time.sleep(60)


def _hang_on_rank_one(ctx: DistContext) -> None:
    if ctx.rank == 1:
        time.sleep(120)
    distributed.barrier(ctx)


def _kill_rank_one(ctx: DistContext, time_file: str) -> None:
    distributed.barrier(ctx)  # Both ranks are up before one dies.
    if ctx.rank == 1:
        Path(time_file).write_text(f"{time.time():.3f}")
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


class _Unpicklable(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")


def _sleep_forever(ctx: DistContext, pid_dir: str) -> None:
    Path(pid_dir, f"rank{ctx.rank}.pid").write_text(str(os.getpid()))
    time.sleep(600)


class _FlowTimedOut(Exception):
    """Stands for the exception Prefect raises into a task's thread on time-out."""


def _raise_unpicklable(ctx: DistContext) -> None:
    raise _Unpicklable(3, "needs two arguments to rebuild")


@gin.configurable
def _configurable_refusing(value: int = -1) -> None:
    raise ValueError(f"value must be >= 0, got {value}")


def _raise_through_gin(ctx: DistContext) -> None:
    _configurable_refusing()  # gin re-raises as a class made on the fly


def _check_replicas(ctx: DistContext, drift: bool) -> str:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    if drift and ctx.rank == 1:
        with torch.no_grad():
            model.bias[0] += 1e-6
    return distributed.check_replicas_identical(model, ctx)


def _train_toy_ddp(ctx: DistContext, steps: int) -> list[torch.Tensor]:
    torch.manual_seed(0)  # Same initial weights on every rank (DDP also syncs).
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data_gen = torch.Generator().manual_seed(100 + ctx.rank)  # different data per rank
    for _ in range(steps):
        x = torch.randn(16, 8, generator=data_gen)
        y = torch.randn(16, 3, generator=data_gen)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    params = [p.detach().clone() for p in model.module.parameters()]
    gathered: list[list[torch.Tensor] | None] = [None] * ctx.world_size
    dist.all_gather_object(gathered, params)
    return gathered


def test_spawn_runs_every_rank_splits_cores_and_returns_rank_zero_result():
    result = launch(_describe_rank, ("hello",), world_size=2, timeout_s=60)

    assert result["tag"] == "hello"
    assert result["rank"] == 0
    assert result["world_size"] == 2
    assert result["backend"] == "gloo"
    assert result["ranks_seen"] == [0, 1]
    assert result["pid"] != os.getpid()
    if "OMP_NUM_THREADS" not in os.environ:  # else the launcher leaves threads be
        assert result["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)


def test_default_world_size_on_cpu_is_one():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the default is one rank per GPU")
    assert distributed.default_world_size() == 1

    result = launch(_describe_rank, ("solo",), timeout_s=60)

    assert result["world_size"] == 1 and result["ranks_seen"] == [0]


def test_all_reduce_sums_adds_every_rank():
    sums = launch(_sums, world_size=2, timeout_s=60)

    assert sums == {"a": 3.0, "b": 30.0, "count": 2.0}


def test_all_reduce_sums_refuses_different_keys_on_different_ranks():
    with pytest.raises(ValueError, match="ranks passed different keys"):
        launch(_sums_with_rank_keys, world_size=2, timeout_s=60)


def test_all_reduce_sums_without_a_group_is_the_identity():
    ctx = DistContext.single_process()

    assert distributed.all_reduce_sums({"b": 2, "a": 1.5}, ctx) == {"a": 1.5, "b": 2.0}
    assert distributed.broadcast_object({"x": 1}, ctx) == {"x": 1}
    distributed.barrier(ctx)


def test_ddp_ranks_end_with_identical_parameters():
    gathered = launch(_train_toy_ddp, (5,), world_size=2, timeout_s=60)

    rank0, rank1 = gathered
    assert len(rank0) == 2
    for p0, p1 in zip(rank0, rank1, strict=True):
        assert torch.equal(p0, p1)
    # The ranks saw different data, so training moved the weights off the seed.
    torch.manual_seed(0)
    assert not torch.equal(torch.nn.Linear(8, 3).weight, rank0[0])


def test_replica_check_passes_identical_weights_and_returns_their_digest():
    digest = launch(_check_replicas, (False,), world_size=2, timeout_s=60)

    torch.manual_seed(0)
    assert digest == distributed.state_digest(torch.nn.Linear(4, 2).state_dict())


def test_replica_check_catches_a_drifted_rank():
    with pytest.raises(RuntimeError, match="replicas differ"):
        launch(_check_replicas, (True,), world_size=2, timeout_s=60)


def test_state_digest_sees_every_bit():
    state = {"w": torch.zeros(3), "b": torch.ones(2, dtype=torch.float64)}
    flipped = {"w": torch.tensor([0.0, -0.0, 0.0]), "b": state["b"]}

    assert distributed.state_digest(state) == distributed.state_digest(dict(state))
    assert distributed.state_digest(state) != distributed.state_digest(flipped)


def test_failing_rank_ends_the_job_promptly_with_its_error():
    with pytest.raises(ValueError, match="bad shard 7") as info:
        launch(_raise_on_rank_one, world_size=2, timeout_s=60)
    caught = time.time()

    # Promptness counts from the raise, not from the (load-dependent) spawn.
    raised = float(re.search(r"at (\d+\.\d+)", str(info.value)).group(1))
    assert caught - raised < PROMPT_S, f"surfaced {caught - raised:.1f} s after"
    cause = info.value.__cause__
    assert isinstance(cause, RankFailedError)
    assert cause.rank == 1
    assert cause.error_type == "ValueError"
    assert "_raise_on_rank_one" in cause.traceback_text
    assert "raise ValueError" in cause.traceback_text


def test_unrebuildable_error_arrives_as_rank_failed_error():
    with pytest.raises(RankFailedError, match="code 3: needs two arguments") as info:
        launch(_raise_unpicklable, world_size=1, timeout_s=60)

    assert info.value.rank == 0
    assert info.value.error_type.endswith("_Unpicklable")
    assert "_raise_unpicklable" in info.value.traceback_text


def test_a_gin_configurables_value_error_arrives_as_a_value_error():
    with pytest.raises(ValueError, match="value must be >= 0, got -1") as info:
        launch(_raise_through_gin, world_size=1, timeout_s=60)
    assert type(info.value) is ValueError
    assert "_configurable_refusing" in str(info.value)  # gin's context is kept
    assert isinstance(info.value.__cause__, RankFailedError)


def test_killed_rank_is_reported_with_its_signal(tmp_path):
    time_file = tmp_path / "killed_at"
    with pytest.raises(RankFailedError, match="rank 1 .*SIGKILL") as info:
        launch(_kill_rank_one, (str(time_file),), world_size=2, timeout_s=60)
    caught = time.time()

    assert info.value.rank == 1
    killed = float(time_file.read_text())
    assert caught - killed < PROMPT_S, f"surfaced {caught - killed:.1f} s after"


def test_hung_rank_is_bounded_by_the_timeout():
    start = time.monotonic()
    with pytest.raises(Exception, match="(?i)timed? ?out|timeout") as info:
        launch(_hang_on_rank_one, world_size=2, timeout_s=5)
    elapsed = time.monotonic() - start

    assert elapsed < 40, f"hung rank held the job for {elapsed:.1f} s"
    assert any("timeout_s=5 s" in note for note in info.value.__notes__)
    # Rank 0 gave up in the collective, not while the ranks were meeting.
    assert "_hang_on_rank_one" in info.value.__cause__.traceback_text


def test_missing_node_is_bounded_by_the_timeout():
    start = time.monotonic()
    with pytest.raises(Exception, match="(?i)timed? ?out|timeout"):
        launch(
            _sums,
            world_size=1,
            nnodes=2,
            node_rank=0,
            master_port=distributed.free_port(),
            timeout_s=3,
        )

    assert time.monotonic() - start < 40


def test_unpicklable_fn_is_refused_before_spawning():
    with pytest.raises(TypeError, match="must pickle"):
        launch(lambda ctx: ctx.rank, world_size=1)


def test_two_concurrent_launches_do_not_collide():
    results: dict[int, object] = {}

    def run(index: int) -> None:
        try:
            results[index] = launch(_sums, world_size=2, timeout_s=60)
        except Exception as error:  # Surface in the main thread below.
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=110)

    expected = {"a": 3.0, "b": 30.0, "count": 2.0}
    assert results == {0: expected, 1: expected}


def test_exception_raised_into_the_launcher_thread_stops_the_job(tmp_path):
    """A flow's time-out or cancellation, delivered as an asynchronous exception
    into the thread that waits on the ranks, ends the wait and the ranks."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            launch(_sleep_forever, (str(tmp_path),), world_size=2, timeout_s=60)
        except BaseException as error:  # Surface in the main thread below.
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("rank*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [int(path.read_text()) for path in tmp_path.glob("rank*.pid")]
    assert len(pids) == 2, "the ranks did not start"

    raised_at = time.monotonic()
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(_FlowTimedOut)
    )
    thread.join(timeout=PROMPT_S)

    assert not thread.is_alive(), "the launcher kept waiting on its ranks"
    assert time.monotonic() - raised_at < PROMPT_S
    assert isinstance(outcome.get("error"), _FlowTimedOut)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_taken_master_port_is_a_clear_error():
    with distributed._reserved_port() as port, _listening(port):
        with pytest.raises(RankFailedError, match="(?i)address already in use"):
            launch(_sums, world_size=1, master_port=port, timeout_s=20)


def test_automatic_port_retries_when_rank_zero_finds_it_taken(monkeypatch):
    taken: list[int] = []
    real_reserved_port = distributed._reserved_port

    @contextlib.contextmanager
    def taken_first_time():
        with real_reserved_port() as port:
            if taken:
                yield port
                return
            with _listening(port):  # Another job got there first.
                taken.append(port)
                yield port

    monkeypatch.setattr(distributed, "_reserved_port", taken_first_time)

    sums = launch(_sums, world_size=1, timeout_s=20)

    assert taken, "the first attempt did not get the taken port"
    assert sums == {"a": 1.0, "b": 10.0, "count": 1.0}


def test_tcp_init_method_brackets_ipv6_addresses():
    assert distributed.tcp_init_method("10.0.0.1", 29500) == "tcp://10.0.0.1:29500"
    assert distributed.tcp_init_method("::1", 1234) == "tcp://[::1]:1234"
    assert distributed.tcp_init_method("[::1]", 1234) == "tcp://[::1]:1234"


def test_bad_topology_is_rejected_before_spawning():
    with pytest.raises(ValueError, match="node_rank must be in"):
        launch(_sums, world_size=1, nnodes=2, node_rank=2)
    with pytest.raises(ValueError, match="world_size"):
        launch(_sums, world_size=0)
    with pytest.raises(ValueError, match="backend"):
        launch(_sums, world_size=1, backend="mpi")


NODE_SCRIPT = """
import json, sys
from genrec import distributed

def job(ctx):
    sums = distributed.all_reduce_sums({"rank": float(ctx.rank), "n": 1.0}, ctx)
    return {"rank": ctx.rank, "node_rank": ctx.node_rank, "nnodes": ctx.nnodes,
            "world_size": ctx.world_size, "sums": sums}

if __name__ == "__main__":
    node_rank, port = int(sys.argv[1]), int(sys.argv[2])
    result = distributed.launch(job, world_size=2, nnodes=2, node_rank=node_rank,
                                master_port=port, timeout_s=60)
    print(json.dumps(result))
"""


def test_two_launchers_form_one_job_across_nodes(tmp_path):
    script = tmp_path / "node_job.py"
    script.write_text(NODE_SCRIPT)
    port = str(distributed.free_port())
    nodes = [
        subprocess.Popen(
            [sys.executable, str(script), str(node_rank), port],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node_rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=100) for node in nodes]

    for node, (_, stderr) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, stderr[-3000:]
    node0 = json.loads(outputs[0][0].strip().splitlines()[-1])
    node1 = json.loads(outputs[1][0].strip().splitlines()[-1])
    # Four ranks (2 nodes x 2): global ranks 0..3, sums over all of them.
    assert node0 == {
        "rank": 0,
        "node_rank": 0,
        "nnodes": 2,
        "world_size": 4,
        "sums": {"n": 4.0, "rank": 6.0},
    }
    assert node1 is None


def test_torchrun_runs_fn_in_each_worker(tmp_path):
    script = tmp_path / "torchrun_job.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            from genrec import distributed

            def job(ctx, out_dir):
                sums = distributed.all_reduce_sums({"rank": float(ctx.rank)}, ctx)
                record = {"rank": ctx.rank, "local_rank": ctx.local_rank,
                          "world_size": ctx.world_size, "sums": sums,
                          "pid": os.getpid()}
                with open(f"{out_dir}/rank{ctx.rank}.json", "w") as fh:
                    json.dump(record, fh)
                return record

            if __name__ == "__main__":
                result = distributed.launch(job, (sys.argv[1],), timeout_s=60)
                out = f"{sys.argv[1]}/returned{os.environ['RANK']}.json"
                with open(out, "w") as fh:
                    json.dump(result, fh)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1",
        "--master_port", str(distributed.free_port()),
        str(script), str(tmp_path),
    ]  # fmt: skip
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=100
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    records = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in records] == [0, 1]
    assert [r["local_rank"] for r in records] == [0, 1]
    assert all(r["world_size"] == 2 and r["sums"] == {"rank": 1.0} for r in records)
    assert records[0]["pid"] != records[1]["pid"]
    returned0 = json.loads((tmp_path / "returned0.json").read_text())
    returned1 = json.loads((tmp_path / "returned1.json").read_text())
    assert returned0 == records[0]
    assert returned1 is None


class _listening:
    """Keep another socket listening on `port` (as a foreign job would)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("", self.port))
        self.sock.listen()
        return self.sock

    def __exit__(self, *exc_info):
        self.sock.close()
