"""The console text: epoch lines, the report, ASCII stand-ins."""

import io

from shared.console import ASCII, UNICODE, end_block, epoch_line, glyphs_for, report_lines, warning_line
from shared.diagnostics import Settings, diagnose


def rec(epoch, train, val, epochs=20):
    return {"epoch": epoch, "epochs": epochs, "train_loss": train, "val_loss": val}


def test_epoch_line_shape():
    assert epoch_line(rec(1, 0.6234, 0.6421), None) == (
        "Epoch  1/20 | Train: 0.6234 | Val: 0.6421 | Gap: +0.0187 | Δ: +0.0000")
    assert epoch_line(rec(12, 0.3, 0.35), 0.36) == (
        "Epoch 12/20 | Train: 0.3000 | Val: 0.3500 | Gap: +0.0500 | Δ: -0.0100")
    assert epoch_line(rec(3, None, 0.5, epochs=5), 0.4, ASCII) == (
        "Epoch 3/5 | Train: nan | Val: 0.5000 | Gap: nan | d: +0.1000")


def test_report_shape_matches_the_original_tool():
    findings = diagnose([0.5] * 6, [0.5, 0.4995, 0.4992, 0.4990, 0.4989, 0.4985], Settings())
    lines = report_lines(findings)
    assert lines[0] == "📊 Training Diagnostics:" and lines[1] == "-" * 40 and lines[-1] == "-" * 40
    assert lines[2] == "✓ No significant overfitting"
    assert lines[3] == "⚠️  PLATEAU detected"
    assert lines[4].startswith("   Val loss not improving")
    assert lines[5] == "   → Try: Reduce --lr by 2-5x (1e-3 → 2e-4)"
    assert lines[6] == "✓ Training is stable"


def test_ascii_report_has_no_unicode():
    findings = diagnose([0.5] * 6, [0.5, 0.4995, 0.4992, 0.4990, 0.4989, 0.4985])
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


def test_report_after_divergence_shows_only_divergence():
    lines = report_lines(diagnose([0.5, float("nan")], [0.5, 0.5]))
    assert lines[2] == "⚠️  DIVERGENCE detected"
    assert not any("still improving" in line or "stable" in line for line in lines)
    assert "other checks skipped" in lines[-2]
