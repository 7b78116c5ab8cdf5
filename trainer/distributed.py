"""Data-parallel training under `torchrun`: which process this is, and what the processes must agree on.

`torchrun --nproc-per-node N -m stlar_dl train-dl ...` starts N copies of the command with RANK,
LOCAL_RANK and WORLD_SIZE (and the rendezvous address) in their environment. Each copy trains a
DistributedDataParallel replica on its share of the batches; rank 0 alone writes the run dir and prints.
Without those variables (or with WORLD_SIZE 1) nothing here talks to another process: `Solo` answers
every question as a single process would, so the loop has one code path.

What the processes agree on, and when (every collective is reached by every rank, in the same order):
- after validating the input, and after rank 0 prepared the run dir: whether anyone failed (`agree_error`);
  then all raise, so nobody waits for a peer that gave up;
- the run id, resume point and anything else rank 0 decides before training (`broadcast`);
- before every optimiser step: whether any rank's loss is non-finite (`all_finite`), so all skip the step
  and end the epoch at the same batch;
- at the end of each epoch: the summed training loss (`sum`), every validation batch's result in order
  (`gather`), any stop signal a process received (`signals`), and rank 0's verdict on how the run goes on
  (`decide`: early stop, divergence, a stop). Only rank 0 polls the stop file.

A rank that dies: its peers' next collective fails at once when its connection closes (gloo, NCCL), or
after `timeout_s()` when it hangs; torchrun also ends the other processes when one exits with an error.
Rank 0 then writes the end record `failed`. Collectives use gloo on the CPU and NCCL for CUDA tensors
(`cpu:gloo,cuda:nccl`), so the small agreement tensors and pickled objects never need a GPU.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InputError, StlarError

TIMEOUT_ENV = "STLAR_DL_DIST_TIMEOUT"  # seconds a collective may wait for a silent peer
DEFAULT_TIMEOUT_S = 300.0  # longer than any legitimate wait: rank 0 archiving a run dir, one val batch


class PeerLostError(StlarError):
    """Another training process stopped answering (it died, or its node did). Exit status 1, one line."""

    exit_code = 1


class PeerInputError(StlarError):
    """Raised on ranks other than 0 when some rank refused the input: rank 0 prints it, they stay quiet."""

    quiet = True


@dataclass(frozen=True)
class Place:
    """Where this process sits: rank of world_size, and its index on its node (LOCAL_RANK)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def place_from_env(env: Mapping[str, str] = os.environ) -> Place:
    """The process's place from torchrun's variables; a plain process (none set) is rank 0 of 1."""
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError:
        raise InputError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them); unset them "
                         "to train in one process") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise InputError(f"RANK {rank} of WORLD_SIZE {world}: not a valid place; start the processes with "
                         "torchrun, or unset both to train in one process")
    return Place(rank=rank, world_size=world, local_rank=local)


def device_for(device: str, place: Place, cuda_available: bool) -> str:
    """`--device` for this process: under torchrun `cuda` (and `auto` with CUDA) means `cuda:LOCAL_RANK`.

    An explicit `cuda:N` would put every process on the same GPU, which NCCL refuses: it is refused here
    with the fix.
    """
    if not place.distributed:
        return device
    if device.startswith("cuda:"):
        raise InputError(f"--device {device}: under torchrun each process trains on the GPU of its LOCAL_RANK; "
                         "use --device cuda (and CUDA_VISIBLE_DEVICES to choose the GPUs)")
    if device == "cuda" or (device == "auto" and cuda_available):
        return f"cuda:{place.local_rank}"
    return device


def timeout_s(env: Mapping[str, str] = os.environ) -> float:
    """How long a collective waits for a peer before failing (STLAR_DL_DIST_TIMEOUT, default 300 s)."""
    raw = env.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(f"{TIMEOUT_ENV}={raw}: must be a number of seconds > 0 (e.g. 300)")
    return value


class Solo:
    """The single-process answers: nothing to agree on. The loop calls these; `Group` does the same in a job."""

    place = Place()

    def all_finite(self, finite: bool) -> bool:
        return finite

    def sum(self, *values: float) -> tuple[float, ...]:
        return values

    def gather(self, items: list[Any]) -> list[Any]:
        return items

    def signals(self, local: str | None) -> str | None:
        return local

    def decide(self, verdict: Any) -> Any:
        return verdict

    def broadcast(self, value: Any) -> Any:
        return value

    def sync_buffers(self, model: Any) -> None:
        return None

    def agree_error(self, error: StlarError | None) -> None:
        if error is not None:
            raise error

    def close(self) -> None:
        return None


_SIGNAL_CODES = {"SIGINT": 1, "SIGTERM": 2}  # MAX over ranks: a SIGTERM (preemption) outranks a Ctrl-C


class Group(Solo):
    """This process's part in a torchrun job: the process group and the collectives the loop needs.

    Every method is a collective: all ranks call it, in the same order. A failed collective (a peer is
    gone or timed out) raises PeerLostError.
    """

    def __init__(self, place: Place, device: str, env: Mapping[str, str] = os.environ) -> None:
        import torch
        import torch.distributed as dist

        self.place = place
        self._dist = dist
        self._torch = torch
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(device)  # before the group exists: NCCL binds each rank to its GPU
        timeout = datetime.timedelta(seconds=timeout_s(env))
        try:
            dist.init_process_group(backend="cpu:gloo,cuda:nccl" if cuda else "gloo", timeout=timeout,
                                    rank=place.rank, world_size=place.world_size)
        except Exception as exc:  # noqa: BLE001 - rendezvous failures come in many types
            raise PeerLostError(f"cannot join the other {place.world_size - 1} training process(es): "
                                f"{_one_line(exc)}") from None

    def _run(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (RuntimeError, ValueError, OSError) as exc:
            raise PeerLostError(f"another training process stopped answering ({what}; rank {self.place.rank} of "
                                f"{self.place.world_size}): {_one_line(exc)}; torchrun's output says which "
                                "rank failed first") from None

    def _reduce(self, values: list[float], op: Any) -> list[float]:
        tensor = self._torch.tensor(values, dtype=self._torch.float64)
        self._run("all_reduce", self._dist.all_reduce, tensor, op=op)
        return tensor.tolist()

    def all_finite(self, finite: bool) -> bool:
        return self._reduce([0.0 if finite else 1.0], self._dist.ReduceOp.MAX)[0] == 0.0

    def sum(self, *values: float) -> tuple[float, ...]:
        return tuple(self._reduce(list(values), self._dist.ReduceOp.SUM))

    def gather(self, items: list[Any]) -> list[Any]:
        """Every rank's `items`, interleaved: rank 0's first, rank 1's first, ... rank 0's second, ...

        That is the original order of batches dealt round-robin (`shards.DealtBatches`)."""
        parts: list[Any] = [None] * self.place.world_size
        self._run("all_gather", self._dist.all_gather_object, parts, items)
        out = []
        for i in range(max(len(p) for p in parts)):
            out.extend(p[i] for p in parts if i < len(p))
        return out

    def signals(self, local: str | None) -> str | None:
        code = self._reduce([float(_SIGNAL_CODES.get(local or "", 0))], self._dist.ReduceOp.MAX)[0]
        return next((name for name, c in _SIGNAL_CODES.items() if c == code), local)

    def decide(self, verdict: Any) -> Any:
        return self.broadcast(verdict)

    def broadcast(self, value: Any) -> Any:
        box = [value]
        self._run("broadcast", self._dist.broadcast_object_list, box, src=0)
        return box[0]

    def sync_buffers(self, model: Any) -> None:
        """Give every replica rank 0's buffers (BatchNorm running statistics): during the epoch each rank
        updated its own from its last batch, and validation must use the weights rank 0 saves."""
        for buffer in model.buffers():
            self._run("broadcast", self._dist.broadcast, buffer, src=0)

    def agree_error(self, error: StlarError | None) -> None:
        """All ranks learn whether any rank failed; then all raise. Rank 0 raises the first failure's own
        message (naming the rank when it was another's); the other ranks raise quietly."""
        messages: list[Any] = [None] * self.place.world_size
        mine = None if error is None else str(error)
        self._run("all_gather", self._dist.all_gather_object, messages, mine)
        first = next(((rank, m) for rank, m in enumerate(messages) if m is not None), None)
        if first is None:
            return
        rank, message = first
        if self.place.main:
            if error is not None and rank == 0:
                raise error
            raise InputError(f"(process of rank {rank}) {message}")
        raise PeerInputError(message)

    def close(self) -> None:
        if self._dist.is_initialized():
            try:
                self._dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - a group whose peers are gone may fail to close; we exit anyway
                pass


def join(place: Place, device: str) -> Solo:
    """The group of a torchrun job (joined now), or `Solo` for a single process.

    `device` is the --device option: the group uses NCCL too unless it is `cpu` or CUDA is missing (the
    device check that follows then refuses it with the fix)."""
    if not place.distributed:
        return Solo()
    import torch

    cuda = device != "cpu" and torch.cuda.is_available() and place.local_rank < torch.cuda.device_count()
    return Group(place, f"cuda:{place.local_rank}" if cuda else "cpu")


@contextlib.contextmanager
def agreed(comm: Solo) -> Iterator[None]:
    """Run a block of checks that may raise StlarError on any rank; afterwards every rank knows whether
    one did, and all raise (see `Group.agree_error`). The block must hold no collective."""
    try:
        yield
    except StlarError as exc:
        comm.agree_error(exc)
        raise
    comm.agree_error(None)


def unwrap(model: Any) -> Any:
    """The model inside a DistributedDataParallel wrapper (its `module`), or the model itself."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def _one_line(exc: BaseException) -> str:
    return (" ".join(f"{type(exc).__name__}: {exc}".split()))[:300]
