"""The console text users of the original STLAR tool know: epoch lines, banners, the diagnostic report.

Pure string building. The trainer prints these live; `stlar-dl watch --no-window` and `stlar-dl replay
--no-window` print the same lines from the log, so a run reads the same in every terminal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from shared.diagnostics import OK_TEXT, Check, Finding, Settings, diagnose, plateau_ok
from shared.number_format import fmt_loss, fmt_num
from shared.plateau import Plateau, plateau_of
from shared.decision import KEYS as DECISION_KEYS
from shared.history import History
from shared.names import EPOCH_LINE_METRICS, METRIC_LABELS, metric_label
from shared.lr_schedule import cut_advice, schedule_of

RULE = "=" * 60
THIN_RULE = "-" * 40


@dataclass(frozen=True)
class Glyphs:
    ok: str
    warn: str
    chart: str
    delta: str
    arrow: str
    stop: str
    note: str  # a line that is neither good nor bad news


UNICODE = Glyphs(ok="✓", warn="⚠️ ", chart="📊", delta="Δ", arrow="→", stop="■", note="•")
ASCII = Glyphs(ok="[OK]", warn="[WARN]", chart="[i]", delta="d", arrow="->", stop="[STOP]", note="-")


def glyphs_for(stream: TextIO | None) -> Glyphs:
    """Unicode symbols where the stream can encode them (UTF-8 terminals), plain ASCII stand-ins elsewhere."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    sample = "".join((UNICODE.ok, UNICODE.warn, UNICODE.chart, UNICODE.delta, UNICODE.arrow, UNICODE.stop,
                      UNICODE.note))
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


def asciify(text: str, g: Glyphs) -> str:
    """Put the ASCII stand-ins into text built with the Unicode glyphs."""
    if g is UNICODE:
        return text
    for u, a in zip(
        (UNICODE.warn, UNICODE.ok, UNICODE.chart, UNICODE.delta, UNICODE.arrow, UNICODE.stop, UNICODE.note, "−", "—"),
        (ASCII.warn + " ", ASCII.ok, ASCII.chart, ASCII.delta, ASCII.arrow, ASCII.stop, ASCII.note, "-", "-"),
    ):
        text = text.replace(u, a)
    return text


def fmt_signed(value: float | None) -> str:
    return "nan" if value is None or not math.isfinite(value) else f"{value:+.4f}"


def _f(value: Any) -> float:
    return math.nan if value is None else float(value)


def fmt_metric(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{float(value):.4f}"


def fmt_delta(value: float | None) -> str:
    """A per-epoch change: `-0.0151`; `—` where there is no previous epoch to compare with."""
    return "—" if value is None else fmt_signed(value)


def delta_val(val: float, prev_val: float | None) -> float | None:
    """The per-epoch change of the val loss as every surface shows it: current − previous (negative is
    better); None at the first epoch, which has no previous one."""
    return None if prev_val is None else val - prev_val


def epoch_line(record: dict[str, Any], prev_val: float | None, g: Glyphs = UNICODE,
               prev_lr: float | None = None, eta: str = "") -> str:
    """The one epoch line of the trainer's console, the terminal viewer, replay and the window's log:

    `Epoch  2/20 | Train: 0.6234 | Val: 0.6421 | Gap: +0.0187 | Δ val: -0.0151 | Val acc: 0.8125 | Val AUROC: 0.9012`

    Gap = val − train; Δ val = this val loss minus the previous epoch's (`prev_val`; negative is better;
    `—` at the first epoch). The validation metrics the record holds follow (shared.names order), and the
    learning rate when it differs from `prev_lr`, then `eta` (`ETA 2 min`, shared.eta) if given.
    """
    epochs = record["epochs"]
    width = len(str(epochs))
    train, val = _f(record["train_loss"]), _f(record["val_loss"])
    line = (f"Epoch {record['epoch']:>{width}}/{epochs} | Train: {fmt_loss(train)} | Val: {fmt_loss(val)} | "
            f"Gap: {fmt_signed(val - train)} | {g.delta} val: {fmt_delta(delta_val(val, prev_val))}")
    metrics = record.get("metrics") or {}
    for key in EPOCH_LINE_METRICS:
        if key in metrics:
            line += f" | {metric_label(key)}: {fmt_metric(metrics[key])}"
    lr = record.get("lr")
    if prev_lr is not None and lr is not None and math.isfinite(lr) and lr != prev_lr:
        line += f" | lr: {fmt_num(prev_lr)} {g.arrow} {fmt_num(lr)}"
    if eta:
        line += f" | {eta}"
    return asciify(line, g)


def new_best_line(checkpoint: str | None, g: Glyphs = UNICODE) -> str:
    """`✓ New best! Saved to runs/x/best.pt`; without `checkpoint` (a best that a later one replaced in the
    file, shown by replay) just `✓ New best`."""
    return f"  {g.ok} New best! Saved to {checkpoint}" if checkpoint else f"  {g.ok} New best"


def stop_line(stop: dict[str, Any] | None, epoch: int | None) -> str:
    """The one line every view gives a stop request: `Stop requested by stlar-dl watch (ana@lab-3) at 14:05:09:
    the trainer stops after epoch 4`. `epoch` None: the trainer has not answered yet (the window that wrote the
    request shows this until the trainer's stop_requested record replaces it with the answer).

    Who and when come from the request (the stop file's content, which the record carries); either may be
    missing (a hand-made stop file), and a time that is not a sane Unix time is left out.
    """
    stop = stop if isinstance(stop, dict) else {}
    by, at = stop.get("by"), stop.get("requested_at")
    line = "Stop requested" + (f" by {by}" if isinstance(by, str) and by else "")
    if isinstance(at, (int, float)) and not isinstance(at, bool) and 0 < at < 1e11:  # 1e11 s: year ~5100
        try:
            line += f" at {time.strftime('%H:%M:%S', time.localtime(at))}"
        except (OverflowError, OSError, ValueError):  # a platform whose localtime takes less
            pass
    return line + (f": the trainer stops after epoch {epoch}" if epoch is not None
                   else ": waiting for the trainer to answer")


def banner(title: str) -> list[str]:
    return [RULE, title, RULE]


END_TITLES = {
    "completed": "Training complete!",
    "early_stopped": "Training complete!",
    "stopped": "Training stopped (stop requested)",
    "interrupted": "Training interrupted",
    "diverged": "Training diverged",
    "failed": "Training failed",
}


def metrics_text(metrics: dict[str, Any]) -> str:
    """`Val acc: 0.8125 | Val AUROC: 0.9012 | f1: 0.7000`: the known metrics first, then any other key."""
    keys = [k for k in METRIC_LABELS if k in metrics] + sorted(k for k in metrics if k not in METRIC_LABELS)
    return " | ".join(f"{metric_label(k)}: {fmt_metric(metrics[k])}" for k in keys)


def end_block(reason: str | None, best_epoch: int | None, best_val_loss: float | None,
              extra: Sequence[str] = (), best_metrics: dict[str, Any] | None = None) -> list[str]:
    """The closing banner with the best epoch, its metrics (every key the log holds, known or not) and
    `extra` lines about it (the decision threshold); `reason` None means the run ended without an end record."""
    if reason is None:
        title = "Training ended without an end record (crashed or killed)"
    else:  # a reason this version does not know (a newer trainer's) is still an end: say it as written
        title = END_TITLES.get(reason) or f"Training ended: {reason}"
    best = (
        f"Best epoch: {best_epoch} | Best val loss: {fmt_loss(best_val_loss)}"
        if best_epoch is not None
        else "No epoch finished with a finite val loss"
    )
    lines = ["", RULE, title, best]
    # The decision threshold's own keys are what the `extra` lines say (shared.decision); any other key,
    # known to this version or not, is listed here.
    shown = {k: v for k, v in (best_metrics or {}).items() if k not in DECISION_KEYS}
    if best_epoch is not None and shown:
        lines.append(f"Best epoch's metrics: {metrics_text(shown)}")
    return [*lines, *extra, RULE]


NOTHING_TO_JUDGE = "Nothing to judge: no epoch finished"


def report_lines(findings: Sequence[Finding], g: Glyphs = UNICODE, plateau: Plateau | None = None,
                 n_epochs: int | None = None) -> list[str]:
    """The diagnostic report: a line per check, warnings with what was measured and what to try.

    `plateau`: the run's plateau rule, for the plateau line when it does not fire (without it, the generic
    text); `n_epochs` 0: the run finished no epoch, and the report says there is nothing to judge.
    """
    fired = {f.check: f for f in findings}
    lines = [f"{g.chart} Training Diagnostics:", THIN_RULE]
    if n_epochs == 0:
        lines += [f"{g.note} {NOTHING_TO_JUDGE}", THIN_RULE]
        return [asciify(line, g) for line in lines]
    order = (Check.DIVERGENCE, Check.OVERFITTING, Check.PLATEAU, Check.INSTABILITY)
    if Check.DIVERGENCE in fired:
        # The other checks read the losses of the last epochs; with a non-finite one they would only
        # report "fine" for lack of numbers.
        order = (Check.DIVERGENCE,)
    for check in order:
        finding = fired.get(check)
        if finding is None:
            if check is Check.PLATEAU and plateau is not None:
                good, text = plateau_ok(plateau)
                lines.append(f"{g.ok if good else g.note} {text}")
            elif check in OK_TEXT:
                lines.append(f"{g.ok} {OK_TEXT[check]}")
            continue
        lines += finding_lines(finding, g)
    if Check.DIVERGENCE in fired:
        lines.append("   (other checks skipped: the losses are not finite)")
    lines.append(THIN_RULE)
    return [asciify(line, g) for line in lines]


def diagnostic_report(train: Sequence[float], val: Sequence[float], settings: Settings, g: Glyphs = UNICODE,
                      epochs: Sequence[int] | None = None, lr: Sequence[float] | None = None,
                      config: dict[str, Any] | None = None, planned: int | None = None) -> list[str]:
    """The whole report of a run from its loss columns: what the trainer, watch and replay print at the end.

    With `lr` (the lr each epoch trained with) and a `config` asking for --lr-schedule plateau, the schedule
    is replayed on the run, so the plateau advice says what it already did.
    """
    epochs = list(epochs) if epochs is not None else list(range(1, len(val) + 1))
    schedule = schedule_of(config or {}) if lr is not None else None
    if schedule is not None:
        for epoch, v, rate in zip(epochs, val, lr):  # type: ignore[arg-type]
            schedule.step(epoch, v, rate, planned)
        plateau, lr_cut = schedule.rule, cut_advice(schedule.cuts)
    else:
        plateau, lr_cut = plateau_of(val, epochs), ""
    return report_lines(diagnose(train, val, settings, plateau, lr_cut), g, plateau, len(val))


def finding_lines(finding: Finding, g: Glyphs = UNICODE) -> list[str]:
    """A finding as the report and the live warnings show it: title, what was measured, what to try."""
    return [asciify(text, g) for text in (f"{g.warn} {finding.title}", f"   {finding.detail}",
                                          f"   {g.arrow} Try: {finding.advice}")]


def warning_line(finding: Finding, g: Glyphs = UNICODE) -> str:
    """The one-line live warning: `⚠️ PLATEAU detected - No new best for 5 epochs`."""
    return asciify(f"{g.warn.strip()} {finding.title} - {finding.short}", g)


def warning_lines(finding: Finding, g: Glyphs = UNICODE) -> list[str]:
    """A live warning with its numbers and advice: the one-line warning, then what was measured and what to
    try, as the report words them."""
    return [warning_line(finding, g), *finding_lines(finding, g)[1:]]


def final_report(history: History, reason: str | None, g: Glyphs = UNICODE, extra: Sequence[str] = ()) -> list[str]:
    """The end of a run as the viewers show it: the closing block (best epoch, its metrics and `extra`: the
    decision threshold) and the diagnostic report (which says when there is nothing to judge). `reason` None:
    the run ended without an end record."""
    lines = end_block(reason, history.best_epoch, history.best_val_loss, extra,
                      best_metrics=history.metrics_at(history.best_epoch))
    lines += diagnostic_report(history.train_loss, history.val_loss, Settings.from_config(history.config), g,
                               history.epochs, history.lr, history.config, history.planned_epochs)
    return [asciify(line, g) for line in lines]
