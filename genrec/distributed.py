"""Run a function on every rank of a data-parallel job, on one machine or many.

`launch(fn, args)` calls `fn(ctx, *args)` once per rank and returns what global
rank 0 returned. Two ways in:

- Spawn launcher (default): `torch.multiprocessing.spawn` starts `world_size`
  processes on this node, which meet through an explicit TCP init method
  `tcp://{master_addr}:{master_port}`. With `nnodes > 1`, the same call runs on
  every node with its own `node_rank`; global rank = node_rank * nprocs + local_rank.
- torchrun: when RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT are in
  the environment, nothing is spawned; this process joins with `env://` and runs
  `fn` itself.

Backends: NCCL with one GPU per local rank when CUDA is available, else gloo on
CPU. Every wait on another rank (rendezvous, collectives) is bounded by
`timeout_s`. A rank that raises ends the whole job within seconds and the caller
gets that rank's exception, chained from a `RankFailedError` holding its
traceback text.

Terms: rank = global rank, local_rank = index on this node, nprocs = processes
per node (`world_size` argument), world_size (in DistContext) = nnodes * nprocs.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import datetime
import functools
import hashlib
import logging
import multiprocessing.util
import os
import pickle
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, ParamSpec, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.multiprocessing.spawn import ProcessException

logger = logging.getLogger(__name__)

R = TypeVar("R")
P = ParamSpec("P")

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
MULTINODE_PORT = 29500  # torchrun's default, so both launchers agree.

# Attempts at a fresh port when rank 0 finds the automatically chosen one taken.
_PORT_ATTEMPTS = 3
# Seconds the other ranks get to exit on their own after one fails, before
# SIGTERM (and as long again before SIGKILL).
_TERMINATE_GRACE_S = 1.0
# How often the launcher wakes while waiting for its ranks, so that an exception
# raised into its thread (a flow's time-out or cancellation) is seen promptly.
_JOIN_POLL_S = 1.0
# How long interrupted ranks get to exit by themselves before SIGTERM.
_INTERRUPT_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PORT_IN_USE = re.compile(r"EADDRINUSE|address already in use", re.IGNORECASE)
_TIMED_OUT = re.compile(r"timed out|timeout", re.IGNORECASE)


@dataclass(frozen=True)
class DistContext:
    """Where this rank sits in the job and which device it owns."""

    rank: int
    local_rank: int
    world_size: int
    node_rank: int
    nnodes: int
    device: torch.device
    backend: str
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True on global rank 0, the rank that logs and writes shared files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1 and dist.is_available() and dist.is_initialized()

    @classmethod
    def single_process(cls, device: torch.device | str = "cpu") -> DistContext:
        """A context for code run without `launch`: one rank, helpers are no-ops."""
        device = torch.device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        return cls(0, 0, 1, 0, 1, device, backend, 1)


class RankFailedError(RuntimeError):
    """A rank of a launched job failed; says which, with what, and where."""

    def __init__(
        self, rank: int, error_type: str, message: str, traceback_text: str = ""
    ) -> None:
        self.rank = rank
        self.error_type = error_type
        self.message = message
        self.traceback_text = traceback_text
        text = f"rank {rank} failed with {error_type}: {message}"
        if traceback_text:
            text += f"\n\nTraceback on rank {rank}:\n{traceback_text.rstrip()}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.rank, self.error_type, self.message, self.traceback_text),
        )


class _PortInUseError(RankFailedError):
    """Rank 0 could not listen on the master port: another process has it."""


@dataclass(frozen=True)
class _RankFailure:
    """What a rank writes when it fails, read back by the launcher."""

    rank: int
    phase: str  # "init" (joining the process group) or "run" (inside fn)
    error_type: str
    message: str
    traceback_text: str
    exception_pickle: bytes | None
    time_s: float  # time.time() when caught, to find the first failure

    def to_error(self) -> RankFailedError:
        return RankFailedError(
            self.rank, self.error_type, self.message, self.traceback_text
        )


@dataclass(frozen=True)
class _JobSpec:
    """Everything a spawned rank needs; plain data so it pickles."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    nprocs: int
    nnodes: int
    node_rank: int
    init_method: str
    backend: str
    timeout_s: float
    exchange_dir: str
    log_level: int
    launcher_pid: int

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nprocs


def launch(
    fn: Callable[..., R],
    args: tuple[Any, ...] = (),
    *,
    world_size: int | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int | None = None,
    backend: str | None = None,
    timeout_s: float = 600.0,
) -> R | None:
    """Run `fn(ctx, *args)` on every rank and return global rank 0's result.

    Args:
        fn: a top-level (picklable) function taking a DistContext first.
        args: picklable arguments passed after the context.
        world_size: processes on this node; default one per GPU, or 1 on CPU.
        nnodes: number of nodes; run `launch` once on each.
        node_rank: this node's index in [0, nnodes); node 0 hosts rank 0.
        master_addr: address of node 0, reachable from every node.
        master_port: rendezvous port on node 0; default a free port on one
            node and 29500 across nodes (every node must then use the same one).
        backend: "nccl" or "gloo"; default NCCL when CUDA is available.
        timeout_s: bound on every wait for another rank (rendezvous and
            collectives); not a bound on the whole run.

    Returns:
        Global rank 0's return value on node 0 (it must pickle), None elsewhere.

    Raises:
        The failing rank's own exception (chained from a RankFailedError with
        its traceback text), or RankFailedError when it cannot be rebuilt here
        or the rank died without raising (killed, out of memory).
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    if launched_by_torchrun():
        ignored = {"world_size": world_size, "nnodes": nnodes, "node_rank": node_rank}
        return _run_under_torchrun(fn, args, backend, timeout_s, ignored)
    if dist.is_available() and dist.is_initialized():
        raise RuntimeError(
            "launch() called inside a running process group; call fn directly"
        )

    backend = resolve_backend(backend)
    nprocs = default_world_size(backend) if world_size is None else world_size
    _check_topology(nprocs, nnodes, node_rank, backend)
    spawn = functools.partial(
        _spawn,
        fn,
        tuple(args),
        nprocs=nprocs,
        nnodes=nnodes,
        node_rank=node_rank,
        master_addr=master_addr,
        backend=backend,
        timeout_s=timeout_s,
    )
    if master_port is not None:
        return spawn(master_port=master_port)
    if nnodes > 1:
        logger.info("nnodes=%d, no master_port: using %d", nnodes, MULTINODE_PORT)
        return spawn(master_port=MULTINODE_PORT)
    return _spawn_on_reserved_port(spawn)


def _spawn_on_reserved_port(spawn: Callable[..., R]) -> R:
    """Call `spawn(master_port=...)` on a port held for it; retry if it was taken.

    The port stays bound until the job ends, so no other process is given it
    between our choosing it and rank 0 listening on it.
    """
    for attempt in range(1, _PORT_ATTEMPTS):
        with _reserved_port() as port:
            try:
                return spawn(master_port=port)
            except _PortInUseError:
                logger.warning(
                    "port %d was taken (attempt %d); retrying", port, attempt
                )
    with _reserved_port() as port:
        return spawn(master_port=port)


def launched_by_torchrun() -> bool:
    """True when torchrun (or another env:// launcher) started this process."""
    return all(name in os.environ for name in TORCHRUN_ENV)


def hosts_rank_zero(node_rank: int = 0) -> bool:
    """True in the process whose launch() will run global rank 0.

    Under torchrun that is the worker with RANK 0; under the spawn launcher it is
    the launcher process on node 0. Use it for work done once, before launch().
    """
    if launched_by_torchrun():
        return int(os.environ["RANK"]) == 0
    return node_rank == 0


def resolve_backend(backend: str | None = None) -> str:
    """NCCL when CUDA and NCCL are available, else gloo; checks a given name."""
    if backend is None:
        cuda = torch.cuda.is_available() and dist.is_nccl_available()
        return "nccl" if cuda else "gloo"
    if backend not in ("nccl", "gloo"):
        raise ValueError(f"backend must be 'nccl' or 'gloo', got {backend!r}")
    if backend == "nccl" and not (
        torch.cuda.is_available() and dist.is_nccl_available()
    ):
        raise ValueError("backend 'nccl' needs CUDA GPUs and a CUDA build of torch")
    return backend


def default_world_size(backend: str | None = None) -> int:
    """Processes per node: one per GPU under NCCL, else 1 (never 0)."""
    if resolve_backend(backend) == "nccl":
        return max(1, torch.cuda.device_count())
    return 1


def tcp_init_method(master_addr: str, master_port: int) -> str:
    """`tcp://host:port`, with an IPv6 address in brackets."""
    if ":" in master_addr and not master_addr.startswith("["):
        master_addr = f"[{master_addr}]"
    return f"tcp://{master_addr}:{master_port}"


def free_port(host: str = "") -> int:
    """A TCP port that is free now (it may be taken again before you bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def all_reduce_sums(values: Mapping[str, float], ctx: DistContext) -> dict[str, float]:
    """Sum each named value over all ranks (every rank must pass the same keys).

    Sums travel as one float64 tensor (on the rank's GPU under NCCL), so counts
    up to 2**53 stay exact. A CRC of the key names rides along in the same
    all-reduce: ranks that passed different keys all raise instead of adding
    unrelated numbers.
    """
    keys = sorted(values)
    if not ctx.is_distributed:
        return {key: float(values[key]) for key in keys}
    signature = zlib.crc32("\0".join(keys).encode())
    payload = torch.tensor(
        [float(values[key]) for key in keys] + [float(signature)],
        dtype=torch.float64,
        device=ctx.device,
    )
    dist.all_reduce(payload, op=dist.ReduceOp.SUM)
    sums = payload.tolist()
    if sums[-1] != float(signature) * ctx.world_size:
        raise ValueError(
            f"all_reduce_sums: ranks passed different keys (rank {ctx.rank}: {keys})"
        )
    return dict(zip(keys, sums[:-1], strict=True))


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (bounded by the launch timeout)."""
    if not ctx.is_distributed:
        return
    if ctx.backend == "nccl":
        dist.barrier(device_ids=[ctx.local_rank])
    else:
        dist.barrier()


def broadcast_object(obj: R, ctx: DistContext, src: int = 0) -> R:
    """Return rank `src`'s `obj` on every rank (it must pickle)."""
    if not ctx.is_distributed:
        return obj
    box = [obj]
    device = ctx.device if ctx.backend == "nccl" else None
    dist.broadcast_object_list(box, src=src, device=device)
    return box[0]


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and exact bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_replicas_identical(module: torch.nn.Module, ctx: DistContext) -> str:
    """Raise unless every rank holds bit-identical weights; return their digest.

    Data parallelism keeps replicas equal only if every rank applies the same
    updates; this catches a rank that drifted (a skipped step, a rank-local
    parameter change). Each rank logs the digest it computed.
    """
    digest = state_digest(module.state_dict())
    digests = [digest]
    if ctx.is_distributed:
        digests = [""] * ctx.world_size
        dist.all_gather_object(digests, digest)
    if len(set(digests)) > 1:
        by_rank = ", ".join(f"rank {r}: {d[:12]}" for r, d in enumerate(digests))
        raise RuntimeError(f"replicas differ after training ({by_rank})")
    logger.info(
        "rank %d: weights identical on %d rank(s), sha256 %s",
        ctx.rank,
        ctx.world_size,
        digest,
    )
    return digest


def is_main_process() -> bool:
    """True outside a process group and on global rank 0 inside one."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def rank_zero_only(fn: Callable[P, R]) -> Callable[P, R | None]:
    """Decorate `fn` to run on global rank 0 only (None elsewhere)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        return fn(*args, **kwargs) if is_main_process() else None

    return wrapper


def _check_topology(nprocs: int, nnodes: int, node_rank: int, backend: str) -> None:
    if nprocs < 1:
        raise ValueError(f"world_size (processes per node) must be >= 1, got {nprocs}")
    if nnodes < 1:
        raise ValueError(f"nnodes must be >= 1, got {nnodes}")
    if not 0 <= node_rank < nnodes:
        raise ValueError(f"node_rank must be in [0, {nnodes}), got {node_rank}")
    if backend == "nccl" and nprocs > torch.cuda.device_count():
        raise ValueError(
            f"world_size={nprocs} processes but only {torch.cuda.device_count()} "
            "GPUs on this node; NCCL needs one GPU per process"
        )


@contextlib.contextmanager
def _reserved_port() -> Iterator[int]:
    """Bind a free port and keep it bound (not listening) while in the block.

    SO_REUSEADDR on this socket and on the store's lets rank 0 listen on the
    port while we hold it; the kernel gives the bound port to nobody else.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", 0))
        yield int(sock.getsockname()[1])


def _spawn(
    fn: Callable[..., R],
    args: tuple[Any, ...],
    *,
    nprocs: int,
    nnodes: int,
    node_rank: int,
    master_addr: str,
    master_port: int,
    backend: str,
    timeout_s: float,
) -> R | None:
    with tempfile.TemporaryDirectory(prefix="genrec-launch-") as exchange_dir:
        spec = _JobSpec(
            fn=fn,
            args=tuple(args),
            nprocs=nprocs,
            nnodes=nnodes,
            node_rank=node_rank,
            init_method=tcp_init_method(master_addr, master_port),
            backend=backend,
            timeout_s=timeout_s,
            exchange_dir=exchange_dir,
            log_level=logging.getLogger().getEffectiveLevel(),
            launcher_pid=os.getpid(),
        )
        logger.info(
            "launching %d rank(s) on node %d/%d via %s (%s, timeout %.0f s)",
            nprocs,
            node_rank,
            nnodes,
            spec.init_method,
            backend,
            timeout_s,
        )
        _check_picklable(spec)
        _join(mp.spawn(_run_rank, args=(spec,), nprocs=nprocs, join=False), spec)
        result_path = Path(exchange_dir) / "result.pkl"
        if not result_path.exists():
            return None
        with result_path.open("rb") as fh:
            return pickle.load(fh)


def _check_picklable(spec: _JobSpec) -> None:
    """Fail here, with a hint, rather than with a pickling error deep in spawn."""
    try:
        pickle.dumps((spec.fn, spec.args))
    except Exception as error:
        raise TypeError(
            f"launch(): fn and args must pickle to reach the ranks (fn a top-level "
            f"function, args plain data such as a resolved gin config string): {error}"
        ) from error


def _join(context: mp.ProcessContext, spec: _JobSpec) -> None:
    """Wait for all ranks; on the first failure stop the rest and raise its error."""
    try:
        with _ranks_stopped_on_sigterm(context):
            while not context.join(
                timeout=_JOIN_POLL_S, grace_period=_TERMINATE_GRACE_S
            ):
                pass
    except mp.ProcessExitedException as exited:
        _raise_first_failure(spec, exited)
    except mp.ProcessRaisedException as raised:
        _raise_first_failure(spec, raised)
    except KeyboardInterrupt:
        # A terminal's Ctrl-C reaches the ranks too: let them unwind (their
        # progress bar closed, their semaphores unlinked) before stopping them.
        _await_ranks(context, _INTERRUPT_GRACE_S)
        raise
    finally:
        # Live ranks are left here only when the caller was interrupted.
        _stop_ranks(context)
        # torch names an error file per rank and leaves the ones ranks wrote.
        for path in context.error_files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@contextlib.contextmanager
def _ranks_stopped_on_sigterm(context: mp.ProcessContext) -> Iterator[None]:
    """While waiting, answer SIGTERM by stopping the ranks before anything else.

    The signal reaches only the launcher (a `kill PID`, a runner cancelling a
    flow run), and the spawned ranks would otherwise train on as orphans. After
    stopping them, the handler in place before (e.g. Prefect's) runs; without
    one, SystemExit(143) unwinds the caller's clean-up (run-folder lock, temporary
    files). Signal handlers can be set from the main thread only; elsewhere the
    thread's owner is in charge of signals.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if (
        threading.current_thread() is not threading.main_thread()
        or previous == signal.SIG_IGN
    ):
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        logger.warning("SIGTERM: stopping the %d rank(s)", len(context.processes))
        _stop_ranks(context)
        if callable(previous):
            previous(signum, frame)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _await_ranks(context: mp.ProcessContext, timeout_s: float) -> None:
    """Wait up to `timeout_s` in all for every rank to exit by itself."""
    deadline = time.monotonic() + timeout_s
    for process in context.processes:
        process.join(max(deadline - time.monotonic(), 0.0))


def _stop_ranks(context: mp.ProcessContext) -> None:
    """SIGTERM every live rank, then SIGKILL the ones still there after 5 s."""
    for process in context.processes:
        if process.is_alive():
            process.terminate()
            process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join()


def _raise_first_failure(spec: _JobSpec, spawn_error: ProcessException) -> None:
    failures = []
    for path in Path(spec.exchange_dir).glob("failure-*.pkl"):
        with path.open("rb") as fh:
            failures.append(pickle.load(fh))
    if not failures:
        raise _died_without_raising(spec, spawn_error)

    first: _RankFailure = min(failures, key=lambda failure: failure.time_s)
    if first.phase == "init" and first.rank == 0 and _PORT_IN_USE.search(first.message):
        raise _PortInUseError(
            first.rank, first.error_type, first.message, first.traceback_text
        )
    error = first.to_error()
    original = _unpickle_exception(first.exception_pickle)
    if original is None:
        original = error
    else:
        original.add_note(f"(raised on global rank {first.rank}; traceback above)")
    if _TIMED_OUT.search(first.message):
        original.add_note(
            f"rank {first.rank} waited longer than timeout_s={spec.timeout_s:g} s for "
            "the other ranks: one of them is stuck, dead, or slower than the timeout"
        )
    if original is error:
        raise error from None
    raise original from error


def _died_without_raising(
    spec: _JobSpec, spawn_error: ProcessException
) -> RankFailedError:
    """Describe a rank that exited with no Python exception: a signal or exit()."""
    rank = spec.node_rank * spec.nprocs + spawn_error.error_index
    if isinstance(spawn_error, mp.ProcessExitedException) and spawn_error.signal_name:
        message = (
            f"killed by {spawn_error.signal_name} without raising (from outside, "
            "e.g. the out-of-memory killer, or a crash in native code)"
        )
    elif isinstance(spawn_error, mp.ProcessExitedException):
        message = f"exited with code {spawn_error.exit_code} without raising"
    else:
        message = str(spawn_error).strip()
    return RankFailedError(rank, type(spawn_error).__name__, message)


def _unpickle_exception(data: bytes | None) -> BaseException | None:
    if data is None:
        return None
    try:
        exception = pickle.loads(data)
    except Exception:  # Classes with unusual __init__ may not rebuild here.
        return None
    return exception if isinstance(exception, BaseException) else None


def _run_rank(local_rank: int, spec: _JobSpec) -> None:
    """Body of one spawned process: join the group, run fn, report, leave."""
    _die_with_launcher(spec.launcher_pid)
    rank = spec.node_rank * spec.nprocs + local_rank
    logging.basicConfig(
        level=spec.log_level,
        format=f"%(asctime)s rank{rank} %(levelname)s %(name)s: %(message)s",
    )
    exchange_dir = Path(spec.exchange_dir)
    phase = "init"
    try:
        ctx = _init_process_group(
            rank=rank,
            local_rank=local_rank,
            local_world_size=spec.nprocs,
            world_size=spec.world_size,
            nnodes=spec.nnodes,
            backend=spec.backend,
            init_method=spec.init_method,
            timeout_s=spec.timeout_s,
        )
        phase = "run"
        result = spec.fn(ctx, *spec.args)
        if ctx.is_main:
            _write_atomically(exchange_dir / "result.pkl", pickle.dumps(result))
        _finish(ctx)
    except Exception as error:
        failure = _describe_failure(rank, phase, error)
        _write_atomically(exchange_dir / f"failure-{rank}.pkl", pickle.dumps(failure))
        raise
    _exit_without_teardown()


def _die_with_launcher(launcher_pid: int) -> None:
    """Have Linux SIGKILL this rank when its launcher dies, even by SIGKILL.

    A launcher that gets to run stops its ranks itself (`_join`); this covers the
    one that cannot (killed outright, out of memory). torch's spawn asks for
    SIGINT instead, which a rank only sees between Python bytecodes and which
    code may catch, so an orphan could train on. Elsewhere than Linux nothing
    is set.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return
    if os.getppid() != launcher_pid:  # It died before the request took effect.
        os._exit(1)


def _exit_without_teardown() -> None:
    """End a rank that finished: flush what it printed, then leave at once.

    By now the process group is destroyed and rank 0's result is on disk, so
    interpreter teardown has nothing left to do. It is skipped because torch's
    native teardown at exit was seen to abort a finished rank (SIGABRT,
    "terminate called without an active exception") about once in 60 two-rank
    CPU launches, failing a job whose work was complete.
    """
    # multiprocessing's own exit step (what a child runs after its target
    # returns): it unlinks the semaphores this process made (tqdm's lock among
    # them), which would otherwise be reported as leaked. Python-level only; it
    # is private, hence missing from the type stubs.
    multiprocessing.util._exit_function()  # type: ignore[attr-defined]
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _run_under_torchrun(
    fn: Callable[..., R],
    args: tuple[Any, ...],
    backend: str | None,
    timeout_s: float,
    ignored: Mapping[str, int | None],
) -> R | None:
    if ignored != {"world_size": None, "nnodes": 1, "node_rank": 0}:
        logger.warning(
            "under torchrun, its flags set the topology; ignoring %s", ignored
        )
    env = os.environ
    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    local_world_size = int(env.get("LOCAL_WORLD_SIZE", world_size))
    nnodes = int(env.get("GROUP_WORLD_SIZE", max(1, world_size // local_world_size)))
    logger.info(
        "torchrun detected: rank %d of %d via env://%s:%s",
        rank,
        world_size,
        env["MASTER_ADDR"],
        env["MASTER_PORT"],
    )
    ctx = _init_process_group(
        rank=rank,
        local_rank=int(env["LOCAL_RANK"]),
        local_world_size=local_world_size,
        world_size=world_size,
        nnodes=nnodes,
        backend=resolve_backend(backend),
        init_method="env://",
        timeout_s=timeout_s,
    )
    result = fn(ctx, *args)
    _finish(ctx)
    return result if ctx.is_main else None


def _init_process_group(
    *,
    rank: int,
    local_rank: int,
    local_world_size: int,
    world_size: int,
    nnodes: int,
    backend: str,
    init_method: str,
    timeout_s: float,
) -> DistContext:
    _set_threads(local_world_size)
    device = torch.device("cpu")
    if backend == "nccl":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend=backend,
        init_method=init_method,
        world_size=world_size,
        rank=rank,
        timeout=datetime.timedelta(seconds=timeout_s),
        device_id=device if backend == "nccl" else None,
    )
    return DistContext(
        rank=rank,
        local_rank=local_rank,
        world_size=world_size,
        node_rank=rank // local_world_size,
        nnodes=nnodes,
        device=device,
        backend=backend,
        local_world_size=local_world_size,
    )


def _set_threads(local_world_size: int) -> None:
    """Split this node's cores between its ranks unless OMP_NUM_THREADS decides."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    cores = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1)
    )
    torch.set_num_threads(max(1, cores // local_world_size))


def _finish(ctx: DistContext) -> None:
    """Leave together: rank 0 hosts the store, so nobody may outlive its exit."""
    if ctx.world_size > 1:
        barrier(ctx)
    dist.destroy_process_group()


def _describe_failure(rank: int, phase: str, error: Exception) -> _RankFailure:
    return _RankFailure(
        rank=rank,
        phase=phase,
        error_type=_type_name(error),
        message=str(error),
        traceback_text=traceback.format_exc(),
        exception_pickle=_pickle_exception(error),
        time_s=time.time(),
    )


def _pickle_exception(error: Exception) -> bytes | None:
    """Pickle `error` so that the launcher can raise it again; None if impossible.

    An exception that does not survive the round trip (one holding a socket or a
    lambda, or of a class made on the fly: gin re-raises a configurable's error
    as such a class) is replaced by its nearest built-in class more specific than
    Exception, with the same message: a ValueError from a config still arrives
    as a ValueError.
    """
    try:
        data = pickle.dumps(error)
        pickle.loads(data)
        return data
    except Exception:
        pass
    builtin = next(
        cls
        for cls in type(error).__mro__
        if getattr(builtins, cls.__name__, None) is cls  # gin's is named alike
    )
    if builtin in (Exception, BaseException):
        return None  # the launcher's RankFailedError says more: the class name
    try:
        return pickle.dumps(builtin(str(error)))
    except Exception:
        return None


def _type_name(error: BaseException) -> str:
    module, name = type(error).__module__, type(error).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
