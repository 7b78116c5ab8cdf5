"""The viewer's log-panel lines: epochs, diagnostics as they start to fire, and the run's own events.

Pure string building over records. The window shows these lines in its log panel and prints them to the
terminal; the same object therefore decides what both say. A warning is printed when its check starts
firing, not again at every epoch while it stays on; it is printed anew when the check fires again after
being off for REARM_EPOCHS epochs (a loss hovering at a threshold does not flap the panel).
"""

from __future__ import annotations

from typing import Any

from shared.console import UNICODE, Glyphs, asciify, epoch_line, fmt_loss, new_best_line, stop_line, warning_lines
from shared.curve_metrics import INSTABILITY_WINDOW
from shared.diagnostics import Check, Settings, diagnose
from shared.fastrecords import EpochBlock
from shared.plateau import PLATEAU_EPOCHS, Plateau
from shared.decision import decision_lines, decision_of
from shared.history import History
from shared.lr_schedule import PlateauSchedule, cut_advice, schedule_of
from shared.logreader import NewRun
from shared.names import end_words, model_name
from shared.records import END, EPOCH, RESUME, SCHEMA_VERSION, START, STOP_REQUESTED, Record

MAX_WINDOW = 256  # epochs the live warnings look back at most (see Events.warnings)
REARM_EPOCHS = 3  # a warning is said again only after its check was off this many epochs (no flapping)
CATCH_UP_EPOCHS = 500  # attaching to a long run: warnings are worked out for this many latest epochs only

# Config keys worth a place in the one-line run summary, in this order, with their display names (the model
# is named by shared.names).
SUMMARY_KEYS = (("lr", "lr"), ("batch_size", "batch"), ("weight_decay", "wd"),
                ("patience", "patience"))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_summary(start: Record) -> str:
    """`30 epochs, ResNet-1D, lr 0.001, batch 64, 48 train / 12 val` from a start record (missing keys skipped)."""
    config = start.get("config") or {}
    parts = [f"{start['epochs']} epochs"]
    if config.get("model_type") is not None:
        parts.append(model_name(config["model_type"]))
    parts += [f"{label} {_short(config[key])}" for key, label in SUMMARY_KEYS if config.get(key) is not None]
    sizes = [f"{start[key]} {label}" for key, label in (("n_train", "train"), ("n_val", "val"))
             if isinstance(start.get(key), int)]
    if sizes:
        parts.append(" / ".join(sizes))
    return ", ".join(parts)


def end_line(record: Record) -> str:
    """`Run ended: completed after 12 epochs, best epoch 9 (val loss 0.3348): Trained all 12 epochs`."""
    best = (f", best epoch {record['best_epoch']} (val loss {fmt_loss(record['best_val_loss'])})"
            if record["best_epoch"] is not None else "")
    line = f"Run ended: {end_words(record['reason'])} after {record['epochs_run']} epochs{best}"
    message = " ".join(str(record["message"]).split())
    return line + (f": {message}" if message else "")


def _records(items: list) -> list[Record | NewRun]:
    """`items` with each `EpochBlock` replaced by its records."""
    if not any(type(item) is EpochBlock for item in items):
        return items
    return [r for item in items for r in (item.records() if type(item) is EpochBlock else (item,))]


class Events:
    """Feed it the records of a run in order (and `NewRun` markers); it returns the lines to show.

    Keeps only which checks are firing; the History is the caller's (the window and the terminal fold
    each record into theirs before asking here).
    """

    def __init__(self, g: Glyphs = UNICODE, checkpoint: str | None = None) -> None:
        self.g = g
        self.checkpoint = checkpoint  # best.pt as shown in "New best! Saved to ..."
        # The one epoch whose best line says "Saved to": best.pt holds only the latest best (see `saved_best`).
        self.saved_epoch: int | None = None
        self.final_best: int | None = None  # replay: the run's last best epoch, known from the whole log
        self.firing: frozenset[Check] = frozenset()
        self._off_for: dict[Check, int] = {}  # epochs since each check last fired (absent: never)
        # The plateau rule needs the run's best, so it is fed every epoch once (O(1) per epoch); with
        # --lr-schedule plateau, through a replica of the trainer's schedule, which knows the lr cuts.
        self._plateau = Plateau()
        self._schedule: PlateauSchedule | None = None
        self._plateau_of: tuple[History | None, int] = (None, 0)  # (the History it was fed from, epochs fed)

    def new_run(self, marker: NewRun) -> list[str]:
        self.firing = frozenset()
        self._off_for = {}
        self._plateau, self._schedule, self._plateau_of = Plateau(), None, (None, 0)
        return [f"New run {marker.run_id} in this run dir ({marker.reason}): view reset"]

    def lines(self, record: Record, history: History, diagnose: bool = True) -> list[str]:
        """Lines for one record, already folded into `history` (`diagnose` False: no warnings, see catch_up)."""
        rtype = record["type"]
        if rtype == EPOCH:
            n = history.n_epochs
            prev_val = history.val_loss[-2] if n >= 2 else None
            prev_lr = history.lr[-2] if n >= 2 else None
            out = [self._text(epoch_line(record, prev_val, self.g, prev_lr))]
            if record["best"]:
                saved = record["epoch"] == (self.final_best if self.final_best is not None else self.saved_epoch)
                out.append(self._text(new_best_line(self.checkpoint if saved else None, self.g)))
            return out + (self.warnings(history) if diagnose else [])
        if rtype == START:
            where = ", ".join(f"{k} {record[k]}" for k in ("host", "pid", "device") if record.get(k) is not None)
            out = [f"Run {record['run_id']} started" + (f" ({where})" if where else "") + f": {config_summary(record)}"]
            if record["schema"] > SCHEMA_VERSION:
                out.append(self._text(
                    f"{self.g.warn.strip()} Log schema {record['schema']} is newer than this viewer's "
                    f"({SCHEMA_VERSION}): showing what it understands; upgrade stlar-dl to see everything"))
            restarted = record.get("restarted")
            if isinstance(restarted, dict):  # a copy that begins a log the trainer started again (see README)
                out.append(self._text(f"{self.g.warn.strip()} The trainer started this log again "
                                      f"({restarted.get('reason', 'the log was taken away')}): its earlier records "
                                      "are not in this file"))
            return out
        if rtype == RESUME:
            where = ", ".join(f"{k} {record[k]}" for k in ("host", "pid", "device") if record.get(k) is not None)
            how = f"it had ended {end_words(record['previous'])}" if record.get("previous") else "its trainer was killed"
            changed = record.get("changed") if isinstance(record.get("changed"), dict) else {}
            what = "; ".join(f"{k} {v[0]} -> {v[1]}" for k, v in changed.items() if isinstance(v, list) and len(v) == 2)
            return [f"Run resumed after epoch {record['epoch']} of {record['epochs']} ({how})"
                    + (f" ({where})" if where else "") + (f": {what}" if what else "")]
        if rtype == STOP_REQUESTED:
            return [stop_line(record["stop"], record["epoch"])]
        if rtype == END:
            return [end_line(record), *decision_lines(decision_of(history))]
        return []

    def saved_best(self, items: list[Record | NewRun]) -> None:
        """Before the lines of `items`: of the new bests among them only the last one is in best.pt now, so
        only its line says "Saved to" (replay sets `final_best` instead: the run's last best)."""
        for item in reversed(items):
            if type(item) is EpochBlock:
                best = item.last_best()
                if best is not None:
                    self.saved_epoch = best
                    return
            elif not isinstance(item, NewRun) and item["type"] == EPOCH and item["best"]:
                self.saved_epoch = item["epoch"]
                return

    def catch_up(self, items: list[Record | NewRun], keep: int = CATCH_UP_EPOCHS) -> int:
        """How many leading epoch records of `items` to show without working out warnings: when `items` hold
        more than CATCH_UP_EPOCHS epochs, all but the last `keep`.

        Diagnostics cost ~0.1 ms an epoch; attaching to a 100,000-epoch log would spend seconds on warnings
        nobody scrolls back to. The latest `keep` epochs get them; the checks firing when they begin are
        printed as newly firing there. The terminal keeps CATCH_UP_EPOCHS; the window keeps the epochs its log
        panel shows.
        """
        n = sum(len(item) if type(item) is EpochBlock else not isinstance(item, NewRun) and item["type"] == EPOCH
                for item in items)
        skip = n - keep if n > CATCH_UP_EPOCHS else 0
        if skip:
            self.firing = frozenset()
            self._off_for = {}
        return skip

    @staticmethod
    def split(items: list[Record | NewRun | EpochBlock], skip: int) -> tuple[list, list[Record | NewRun]]:
        """`items` as (the leading records up to the `skip`-th epoch, the rest): the first part is folded in
        bulk (`History.extend`), the rest one record at a time, so a reader's `EpochBlock` there is turned into
        its records. The first part ends early at a `NewRun`."""
        bulk: list = []
        end = seen = 0
        while end < len(items) and seen < skip and not isinstance(items[end], NewRun):
            item = items[end]
            if type(item) is EpochBlock:
                if seen + len(item) > skip:
                    head, tail = item.split(skip - seen)
                    bulk.append(head)
                    rest = [*tail.records(), *items[end + 1:]]
                    return bulk, _records(rest)
                seen += len(item)
            else:
                seen += item["type"] == EPOCH
            bulk.append(item)
            end += 1
        return bulk, _records(items[end:])

    @staticmethod
    def catch_up_note(skip: int, keep: int = CATCH_UP_EPOCHS, lines: bool = True) -> str:
        """The line that says what a catch-up of `skip + keep` epochs shows (`lines` False: only the last
        `keep` epochs get a line too)."""
        shown = "" if lines else f"showing the last {keep} epochs; "
        return (f"(catching up on {skip + keep} epochs: {shown}diagnostics warnings are worked out for the last "
                f"{keep} only)")

    def warning(self, text: str) -> str:
        """A reader's warning (a skipped log line) as a panel line."""
        return self._text(f"{self.g.warn.strip()} {text}")

    def warnings(self, history: History) -> list[str]:
        """Warnings for the checks that start firing at `history`'s latest epoch (call once per epoch)."""
        settings = Settings.from_config(history.config)
        # Only the last few epochs matter, so attaching to a 100,000-epoch log costs O(epochs), not O(epochs²):
        # overfitting, plateau and instability look no further back by definition; early stop is exact while
        # the wait is at most `patience` (the trainer stops there) and patience < MAX_WINDOW; divergence
        # fires while the non-finite loss is in the window (the trainer ends the run on it at once).
        window = max(PLATEAU_EPOCHS + 1, INSTABILITY_WINDOW, min(settings.patience + 1, MAX_WINDOW))
        plateau = self._fed_plateau(history)
        lr_cut = cut_advice(self._schedule.cuts) if self._schedule is not None else ""
        findings = diagnose(history.train_loss[-window:], history.val_loss[-window:], settings, plateau, lr_cut)
        fired = frozenset(f.check for f in findings)
        new = [line for f in findings
               if f.check not in self.firing and self._off_for.get(f.check, REARM_EPOCHS) >= REARM_EPOCHS
               for line in warning_lines(f, self.g)]
        for check in Check:
            self._off_for[check] = 0 if check in fired else self._off_for.get(check, REARM_EPOCHS) + 1
        self.firing = fired
        return new

    def _fed_plateau(self, history: History) -> Plateau:
        """The plateau rule fed up to `history`'s latest epoch (afresh for another History)."""
        source, fed = self._plateau_of
        if source is not history or fed > history.n_epochs:
            self._schedule, fed = schedule_of(history.config), 0
            self._plateau = self._schedule.rule if self._schedule is not None else Plateau()
        if self._schedule is not None:
            for epoch, val, lr in zip(history.epochs[fed:], history.val_loss[fed:], history.lr[fed:]):
                self._schedule.step(epoch, val, lr, history.planned_epochs)
        else:
            self._plateau.extend(history.epochs[fed:], history.val_loss[fed:])
        self._plateau_of = (history, history.n_epochs)
        return self._plateau

    def _text(self, text: str) -> str:
        return asciify(text, self.g)
