"""The console text: epoch lines, the report, ASCII stand-ins."""

import io
import time

import pytest

from shared.console import (
    ASCII,
    UNICODE,
    diagnostic_report,
    end_block,
    epoch_line,
    glyphs_for,
    report_lines,
    stop_line,
    warning_line,
    warning_lines,
)
from shared.diagnostics import Settings, diagnose


def rec(epoch, train, val, epochs=20, **fields):
    return {"epoch": epoch, "epochs": epochs, "train_loss": train, "val_loss": val, **fields}


def test_epoch_line_shape():
    # Δ val = current - previous (negative is better); the first epoch has none: "—" on every surface.
    assert epoch_line(rec(1, 0.6234, 0.6421), None) == (
        "Epoch  1/20 | Train: 0.6234 | Val: 0.6421 | Gap: +0.0187 | Δ val: —")
    assert epoch_line(rec(12, 0.3, 0.35), 0.36) == (
        "Epoch 12/20 | Train: 0.3000 | Val: 0.3500 | Gap: +0.0500 | Δ val: -0.0100")
    assert epoch_line(rec(3, None, 0.5, epochs=5), 0.4, ASCII) == (
        "Epoch 3/5 | Train: nan | Val: 0.5000 | Gap: nan | d val: +0.1000")
    assert epoch_line(rec(1, 0.5, 0.5), None, ASCII).endswith("| d val: -")


def test_epoch_line_shows_the_metrics_and_a_changed_lr():
    metrics = {"val_auroc": 0.9012, "val_accuracy": 0.8125, "f1": 0.5}
    assert epoch_line(rec(2, 0.3, 0.35, lr=1e-3, metrics=metrics), 0.36, prev_lr=1e-3) == (
        "Epoch  2/20 | Train: 0.3000 | Val: 0.3500 | Gap: +0.0500 | Δ val: -0.0100 | Val acc: 0.8125 | "
        "Val AUROC: 0.9012")
    line = epoch_line(rec(3, 0.3, 0.35, lr=5e-4, metrics={"val_auroc": None}), 0.35, prev_lr=1e-3)
    assert line.endswith("| Δ val: +0.0000 | Val AUROC: n/a | lr: 1e-3 → 5e-4")


def test_the_end_block_names_the_best_epochs_metrics_known_or_not():
    block = end_block("completed", 4, 0.25, best_metrics={"val_accuracy": 0.75, "val_auroc": 0.8, "brier": 0.125})
    assert block[4] == "Best epoch's metrics: Val acc: 0.7500 | Val AUROC: 0.8000 | brier: 0.1250"


PLATEAU_VAL = [0.5, 0.4995, 0.4993, 0.4992, 0.4991, 0.4991]


def test_report_shape_matches_the_original_tool():
    findings = diagnose([0.5] * 6, PLATEAU_VAL, Settings())
    lines = report_lines(findings)
    assert lines[0] == "📊 Training Diagnostics:" and lines[1] == "-" * 40 and lines[-1] == "-" * 40
    assert lines[2] == "✓ No significant overfitting"
    assert lines[3] == "⚠️  PLATEAU detected"
    assert lines[4] == ("   No new best val loss by more than 1e-3 in the last 5 epochs (best 0.5000 at epoch 1, "
                        "5 epochs ago; epoch 5's 0.4991 beat it by less than 1e-3)")
    assert lines[5] == "   → Try: Reduce --lr by 2-5x (1e-3 → 2e-4), or add --lr-schedule plateau"
    assert lines[6] == "✓ Training is stable"


def test_plateau_names_the_best_and_how_long_ago():
    # A noisy run: its best at epoch 6, nothing better by more than 0.001 for 9 epochs since.
    val = [0.6, 0.5, 0.45, 0.4, 0.36, 0.3348, 0.35, 0.34, 0.3352, 0.345, 0.336, 0.34, 0.3350, 0.337, 0.339]
    lines = diagnostic_report([0.3] * 15, val, Settings(patience=100))
    assert "   No new best val loss by more than 1e-3 in the last 5 epochs (best 0.3348 at epoch 6, 9 epochs ago)" in lines
    assert not any("still improving" in line for line in lines)


def test_still_improving_only_after_a_new_best():
    improving = diagnostic_report([0.3] * 4, [0.5, 0.45, 0.46, 0.47], Settings())
    assert "✓ Val loss still improving (new best 0.4500 at epoch 2)" in improving
    # Only the first epoch is a best: too early to call (no green mark), with the numbers.
    young = diagnostic_report([0.4] * 3, [0.5, 0.51, 0.52], Settings())
    assert "• Val loss: no new best since epoch 1 (0.5000) for 2 epochs; a plateau after 5" in young
    assert not any("still improving" in line for line in young)


def test_a_run_without_epochs_has_nothing_to_judge():
    lines = diagnostic_report([], [], Settings())
    assert lines == ["📊 Training Diagnostics:", "-" * 40, "• Nothing to judge: no epoch finished", "-" * 40]
    assert not any("✓" in line for line in lines)
    assert "[OK]" not in "\n".join(diagnostic_report([], [], Settings(), ASCII))


def test_live_warning_carries_numbers_and_advice():
    finding = diagnose([0.5] * 6, PLATEAU_VAL)[0]
    lines = warning_lines(finding)
    assert lines[0] == "⚠️ PLATEAU detected - No new best for 5 epochs"
    assert "best 0.5000 at epoch 1, 5 epochs ago" in lines[1]
    assert lines[2] == "   → Try: Reduce --lr by 2-5x (1e-3 → 2e-4), or add --lr-schedule plateau"


def test_ascii_report_has_no_unicode():
    findings = diagnose([0.5] * 6, PLATEAU_VAL)
    diverged = diagnose([0.5, 0.5], [0.5, float("nan")])
    text = "\n".join(report_lines(findings, ASCII) + report_lines(diverged, ASCII) + [warning_line(findings[0], ASCII)])
    text.encode("ascii")
    assert "[WARN]" in text and "[OK]" in text and "->" in text


def test_glyphs_follow_the_stream_encoding():
    assert glyphs_for(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")) is UNICODE
    assert glyphs_for(io.TextIOWrapper(io.BytesIO(), encoding="cp1252")) is ASCII
    assert glyphs_for(io.TextIOWrapper(io.BytesIO(), encoding="ascii")) is ASCII


def test_end_block():
    assert end_block("completed", 10, 0.3512)[2:4] == ["Training complete!", "Best epoch: 10 | Best val loss: 0.3512"]
    assert "without an end record" in end_block(None, None, None)[2]
    # A reason this version does not know (a newer trainer's) is an end all the same, said as written.
    assert end_block("preempted", 3, 0.5)[2] == "Training ended: preempted"


def test_report_after_divergence_shows_only_divergence():
    lines = report_lines(diagnose([0.5, float("nan")], [0.5, 0.5]))
    assert lines[2] == "⚠️  DIVERGENCE detected"
    assert not any("still improving" in line or "stable" in line for line in lines)
    assert "other checks skipped" in lines[-2]


AT = time.strftime("%H:%M:%S", time.localtime(1_700_000_000.5))  # the request's time, local, to the second


@pytest.mark.parametrize("stop, epoch, line", [
    ({"by": "stlar-dl watch (ana@lab-3)", "requested_at": 1_700_000_000.5}, 4,
     f"Stop requested by stlar-dl watch (ana@lab-3) at {AT}: the trainer stops after epoch 4"),
    ({"by": "stlar-dl watch (ana@lab-3)", "requested_at": 1_700_000_000.5}, None,
     f"Stop requested by stlar-dl watch (ana@lab-3) at {AT}: waiting for the trainer to answer"),
    ({}, 2, "Stop requested: the trainer stops after epoch 2"),  # an empty stop file (a full disk, `touch STOP`)
    (None, 2, "Stop requested: the trainer stops after epoch 2"),
    ({"by": "", "requested_at": "noon"}, 2, "Stop requested: the trainer stops after epoch 2"),
    ({"by": "x", "requested_at": 1e300}, 2, "Stop requested by x: the trainer stops after epoch 2"),  # no sane time
    ({"by": "x", "requested_at": True}, 2, "Stop requested by x: the trainer stops after epoch 2"),
    ({"by": "x", "requested_at": float("nan")}, 2, "Stop requested by x: the trainer stops after epoch 2"),
])
def test_stop_line_says_who_and_when_and_whether_the_trainer_answered(stop, epoch, line):
    assert stop_line(stop, epoch) == line
