"""Resuming a run: `last.pt` (everything training needs to go on), and finding and checking a run to continue.

`last.pt` is written atomically after every recorded epoch that did not diverge. It holds the model, the
optimiser, the schedule (None until the trainer has one), the early-stopping state, which epoch best.pt
holds, the losses so far, the RNG states of python, numpy and torch (and CUDA), the shuffling state (the
sampler's generator in one process, the epoch for a DistributedSampler), the run id and the log's next seq.
Tensors and plain values only: it loads with `torch.load(path, weights_only=True)`.

`train-dl --resume RUN_DIR` continues the run in RUN_DIR with the same run id; `--resume auto` does so when
--out-dir holds an unfinished run (no end record: killed; or one that says `interrupted` or `failed`), and
starts a new run otherwise. Options not given on the command line are the run's own. Options that change
the model or the data (`RUN_DEFINING`) must stay as they were; more epochs, a new lr and the rest are fine.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared.errors import InputError
from shared.logreader import read_log
from shared.records import END, EPOCH, START, Record
from shared.rundir import RunDir
from trainer.config import TrainConfig

FORMAT = "stlar-dl last"
VERSION = 1
AUTO = "auto"
UNFINISHED = (None, "interrupted", "failed")  # end reasons --resume auto continues (None: no end record)
RUN_DEFINING = ("train", "val", "model_type", "batch_size", "seed")  # a resume must keep these


@dataclass
class ResumePoint:
    """A run to continue: its dir, `last.pt`'s content, its log records and how it ended (None: killed)."""

    run_dir: Path
    last: dict[str, Any]
    records: list[Record] = field(default_factory=list)
    previous: str | None = None
    changed: dict[str, list[Any]] = field(default_factory=dict)  # option -> [old, new]

    @property
    def epoch(self) -> int:
        """The last epoch `last.pt` holds: the run continues with the next."""
        return int(self.last["epoch"])

    @property
    def run_id(self) -> str:
        return str(self.last["run_id"])

    @property
    def start(self) -> Record:
        return next(r for r in self.records if r["type"] == START)

    @property
    def next_seq(self) -> int:
        return max(r["seq"] for r in self.records) + 1


# ---- last.pt -----------------------------------------------------------------------------------------------


def rng_states() -> dict[str, Any]:
    """python's, numpy's and torch's RNG states (and the current CUDA device's) as tensors and lists."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, state, gauss_next = random.getstate()
    return {
        "python": [version, list(state), gauss_next],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
    }


def set_rng_states(states: dict[str, Any]) -> None:
    import numpy as np
    import torch

    version, state, gauss_next = states["python"]
    random.setstate((version, tuple(state), gauss_next))
    n = states["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(states["torch"])
    if states.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def sampler_state(loader: Any) -> dict[str, Any]:
    """Where the shuffling stands: a RandomSampler's generator (one process), or nothing to keep (a
    DistributedSampler's order is a function of seed and epoch); and the workers' base-seed generator."""
    sampler = getattr(loader, "sampler", None)
    generator = getattr(sampler, "generator", None)
    loader_generator = getattr(loader, "generator", None)
    return {"generator": generator.get_state() if generator is not None else None,
            "loader_generator": loader_generator.get_state() if loader_generator is not None else None}


def set_sampler_state(loader: Any, state: dict[str, Any]) -> None:
    generator = getattr(getattr(loader, "sampler", None), "generator", None)
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"])
    loader_generator = getattr(loader, "generator", None)
    if loader_generator is not None and state.get("loader_generator") is not None:
        loader_generator.set_state(state["loader_generator"])


def last_dict(*, model: Any, optimizer: Any, loop_state: Any, epoch: int, run_id: str, seq: int,
              config: dict[str, Any], loader: Any, world_size: int, schedule: Any = None) -> dict[str, Any]:
    """The content of last.pt after `epoch` (model tensors copied to the CPU)."""
    from trainer.checkpoint import _plain

    early = loop_state.early
    return {
        "format": FORMAT, "version": VERSION, "run_id": run_id, "seq": int(seq), "epoch": int(epoch),
        "model_type": int(config["model_type"]),
        "model_state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "schedule_state": schedule.state_dict() if schedule is not None else None,
        "early": {"best": early.best if math.isfinite(early.best) else None, "best_epoch": early.best_epoch,
                  "wait": early.wait},
        "saved": list(loop_state.saved) if loop_state.saved else None,
        "threshold": getattr(loop_state, "threshold", None),  # the decision threshold best.pt's config carries
        "train_loss": [float(v) for v in loop_state.train_loss], "val_loss": [float(v) for v in loop_state.val_loss],
        "rng": rng_states(), "sampler": {**sampler_state(loader), "epoch": int(epoch)},
        "config": _plain(config), "world_size": int(world_size),
    }


def save_last(path: str | Path, data: dict[str, Any]) -> None:
    """Write last.pt atomically, as best.pt is written; RunDirError if it cannot be."""
    from trainer.checkpoint import save_atomically

    save_atomically(data, path, "resume checkpoint")


def load_last(path: str | Path) -> dict[str, Any]:
    """last.pt's content; InputError naming the file if it is missing or not a stlar-dl resume checkpoint."""
    import torch

    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: not found; only runs trained by this version keep a last.pt to resume "
                         "from") from None
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise InputError(f"{path}: cannot load it ({' '.join(str(exc).split())[:200]}); a crash cannot "
                         "tear it (it is written atomically): was it replaced by hand?") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a stlar-dl resume checkpoint (best.pt holds weights only; resume needs "
                         "last.pt)")
    return data


def restore(point: ResumePoint, *, model: Any, optimizer: Any, loop_state: Any, loader: Any,
            cfg: TrainConfig) -> None:
    """Put the run back as it was after `point.epoch`, with this resume's lr and weight decay."""
    last = point.last
    model.load_state_dict(last["model_state"])
    optimizer.load_state_dict(last["optimizer_state"])
    for group in optimizer.param_groups:  # a new --lr / --weight-decay applies from the next step
        group["lr"], group["weight_decay"] = cfg.lr, cfg.weight_decay
    early = last["early"]
    loop_state.early.best = math.inf if early["best"] is None else early["best"]
    loop_state.early.best_epoch, loop_state.early.wait = early["best_epoch"], early["wait"]
    loop_state.saved = tuple(last["saved"]) if last["saved"] else None
    loop_state.threshold = last.get("threshold")
    loop_state.train_loss = [float(v) for v in last["train_loss"]]
    loop_state.val_loss = [float(v) for v in last["val_loss"]]
    loop_state.epochs_run = loop_state.epoch = point.epoch
    set_rng_states(last["rng"])
    set_sampler_state(loader, last["sampler"])


# ---- finding and checking the run to continue ---------------------------------------------------------------


def find(resume: str, cfg: TrainConfig, given: frozenset[str] | set[str]) -> tuple[ResumePoint | None, TrainConfig]:
    """The run `--resume` names and the options to continue it with; (None, cfg) when `auto` finds nothing
    to continue. Raises InputError naming the option or file that forbids the resume."""
    if resume == AUTO:
        run_dir = Path(cfg.out_dir)
        shown = cfg.out_dir
    else:
        run_dir, shown = Path(resume), resume
        if "out_dir" in given and _differ(cfg.out_dir, resume):
            raise InputError(f"--out-dir {cfg.out_dir}: --resume {resume} continues the run in {resume}; "
                             "leave --out-dir out")
    rd = RunDir(run_dir)
    if resume == AUTO and not (rd.last.is_file() and rd.log.is_file()):
        return None, cfg
    if not run_dir.is_dir():
        raise InputError(f"--resume {shown}: no such run dir; give the --out-dir of the run to continue")
    records, _ = read_log(rd.log) if rd.log.is_file() else ([], [])
    end = next((r for r in reversed(records) if r["type"] == END), None)
    previous = end["reason"] if end is not None and end is records[-1] else None
    if resume == AUTO and previous not in UNFINISHED:
        return None, cfg
    last = load_last(rd.last)
    if not any(r["type"] == START for r in records):
        raise InputError(f"--resume {shown}: {rd.log.name} has no start record; the run cannot be continued")
    if records[0]["run_id"] != last["run_id"]:
        raise InputError(f"--resume {shown}: last.pt belongs to run {last['run_id']} but the log to run "
                         f"{records[0]['run_id']}; start a new run instead")
    saved = dict(last["config"])
    options = {**saved, **{name: getattr(cfg, name) for name in given if name in saved}, "out_dir": str(run_dir)}
    new = replace(cfg, **{k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__})
    changed = {}
    for name in saved:
        old, value = saved[name], getattr(new, name, None)
        if name in ("out_dir",) or old == value:
            continue
        if name in RUN_DEFINING and not (name in ("train", "val") and not _differ(str(old), str(value))):
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} {value}: the run in {shown} was trained with {flag} {old}; a resume must "
                             f"keep the model and the data (start a new run in another --out-dir to change it)")
        if name not in RUN_DEFINING:
            changed[name] = [old, value]
    epoch = int(last["epoch"])
    if previous in ("completed", "early_stopped") and new.epochs <= epoch and "patience" not in changed:
        raise InputError(f"--resume {shown}: the run ended {previous} after epoch {epoch} of {saved['epochs']}; "
                         f"give --epochs above {epoch} (or a larger --patience) to train more")
    if new.epochs <= epoch:
        raise InputError(f"--epochs {new.epochs}: the run has already trained {epoch} epochs; give --epochs "
                         f"above {epoch} to train more")
    return ResumePoint(run_dir=run_dir, last=last, records=records, previous=previous, changed=changed), new


def check_data(point: ResumePoint, n_train: int, n_val: int) -> None:
    """Refuse data that changed on disk since the run started (the manifests hold other segments now)."""
    start = point.start
    for flag, now, then in (("--train", n_train, start.get("n_train")), ("--val", n_val, start.get("n_val"))):
        if then is not None and now != then:
            raise InputError(f"{flag}: has {now} labelled segments now, the run started with {then}; a resume "
                             "must train on the same data (start a new run in another --out-dir)")


def cut_torn_tail(log: Path) -> None:
    """Drop a last line without its newline (a killed writer's half record), so the next record starts clean."""
    with open(log, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        back = min(size, 1 << 20)
        fh.seek(size - back)
        tail = fh.read(back)
        if tail.endswith(b"\n"):
            return
        nl = tail.rfind(b"\n")
        fh.truncate(size - back + nl + 1 if nl >= 0 else size - back)


def resume_fields(point: ResumePoint, cfg: TrainConfig) -> dict[str, Any]:
    """The resume record's own fields (the trainer adds host, pid, device and world size)."""
    early = point.last["early"]
    return {"epoch": point.epoch, "epochs": cfg.epochs, "config": cfg.as_record(), "changed": point.changed,
            "previous": point.previous, "best_epoch": early["best_epoch"], "best_val_loss": early["best"]}


def superseded(point: ResumePoint) -> int:
    """How many epoch records of the log come after the epoch the run continues from (they are dropped)."""
    return sum(1 for r in point.records if r["type"] == EPOCH and r["epoch"] > point.epoch)


def resume_lines(point: ResumePoint, cfg: TrainConfig) -> list[str]:
    """What the console says about a resume: which run, from where, and what changed."""
    how = f"it ended {point.previous}" if point.previous else "its trainer was killed"
    lines = [f"Resuming run {point.run_id} after epoch {point.epoch} of {cfg.epochs} ({how})"]
    dropped = superseded(point)
    if dropped:
        lines.append(f"The log's last {dropped} epoch record(s) came after last.pt was saved: superseded")
    if point.changed:
        lines.append("Changed: " + ", ".join(f"--{k.replace('_', '-')} {old} -> {new}"
                                             for k, (old, new) in point.changed.items()))
    return lines


def _differ(a: str, b: str) -> bool:
    """Two paths as typed name different files (`models` and `./models/` do not)."""
    if a == b:
        return False
    try:
        return Path(a).expanduser().resolve() != Path(b).expanduser().resolve()
    except OSError:
        return True
