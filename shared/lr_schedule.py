"""`--lr-schedule plateau`: lower the learning rate when the shared plateau rule fires.

A small policy object (like EarlyStopping): feed it each epoch's val loss and the lr that epoch trained with;
it answers the lr for the next epoch, or None to keep it. When the plateau rule (shared.plateau.Plateau,
the one the diagnostics use) fires, the lr is multiplied by `factor`, never below `min_lr`; after a cut it
waits at least `cooldown` epochs before the next one, so the lower lr gets time to show what it does.
Early stopping keeps its own patience.

Pure, so the viewers can replay it on a log: from the config and the recorded val losses and lrs they know
when the trainer cut the lr and what the plateau advice should say. `state_dict`/`load_state_dict` carry it
across a resumed run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.number_format import fmt_num
from shared.plateau import PLATEAU_EPOCHS, Plateau
from shared.lr_options import DEFAULT_SCHEDULE, LR_FACTOR, MIN_LR, SCHEDULES  # noqa: F401 - re-exported
COOLDOWN_EPOCHS = PLATEAU_EPOCHS  # epochs after a cut before the next one may come


@dataclass(frozen=True)
class Cut:
    epoch: int  # the epoch after which the lr changed (the next epoch trains with `new`)
    old: float
    new: float

    def text(self) -> str:
        return f"{fmt_num(self.old)} → {fmt_num(self.new)} after epoch {self.epoch}"


@dataclass
class PlateauSchedule:
    factor: float = LR_FACTOR
    min_lr: float = MIN_LR
    cooldown: int = COOLDOWN_EPOCHS
    rule: Plateau = field(default_factory=Plateau)
    cuts: list[Cut] = field(default_factory=list)

    def step(self, epoch: int, val_loss: float, lr: float, planned: int | None = None) -> float | None:
        """Fold in one epoch (trained with `lr`); return the lr for the next epoch if it changes, else None.

        After the last `planned` epoch there is no next epoch: nothing is cut.
        """
        self.rule.update(epoch, val_loss)
        if planned is not None and epoch >= planned:
            return None
        if not self.rule.firing or not lr > self.min_lr:
            return None
        if self.cuts and epoch - self.cuts[-1].epoch < self.cooldown:
            return None
        new = max(lr * self.factor, self.min_lr)
        self.cuts.append(Cut(epoch, lr, new))
        return new

    def state_dict(self) -> dict[str, Any]:
        """Plain values (JSON and torch's weights_only loading take them)."""
        r = self.rule
        return {"factor": self.factor, "min_lr": self.min_lr, "cooldown": self.cooldown,
                "rule": {"best": r.best, "best_epoch": r.best_epoch, "improved": r.improved, "lowest": r.lowest,
                         "lowest_epoch": r.lowest_epoch, "wait": r.wait, "last_epoch": r.last_epoch},
                "cuts": [[c.epoch, c.old, c.new] for c in self.cuts]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.factor, self.min_lr, self.cooldown = state["factor"], state["min_lr"], state["cooldown"]
        for name, value in state["rule"].items():
            setattr(self.rule, name, value)
        self.cuts = [Cut(int(e), float(o), float(n)) for e, o, n in state["cuts"]]


def schedule_of(config: Mapping[str, Any]) -> PlateauSchedule | None:
    """The schedule a run's config asks for (a start record's or train-dl's), None for `none` or an old log."""
    if config.get("lr_schedule") != "plateau":
        return None
    factor, min_lr = config.get("lr_factor", LR_FACTOR), config.get("min_lr", MIN_LR)
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (factor, min_lr))
    return PlateauSchedule(float(factor), float(min_lr)) if ok else PlateauSchedule()


def cut_advice(cuts: list[Cut]) -> str:
    """What the plateau advice says when the schedule already lowered the lr (empty: it did not)."""
    if not cuts:
        return ""
    latest = cuts[-1]
    earlier = f" ({len(cuts)} cuts so far, from {fmt_num(cuts[0].old)})" if len(cuts) > 1 else ""
    return f"--lr-schedule plateau already lowered the lr {latest.text()}{earlier}"
