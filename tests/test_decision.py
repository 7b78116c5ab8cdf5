"""shared.decision: the best epoch's threshold and confusion matrix, read back from the epoch records."""

from __future__ import annotations

from fake_run import Epochs
from shared.decision import decision_lines, decision_of
from shared.history import History
from viewer.events import Events


def rec(rtype, seq=0, **fields):
    return {"type": rtype, "run_id": "r1", "seq": seq, "time": 1000.0 + seq, **fields}


def threshold_metrics(t, tp, fp, fn, tn):
    return {"val_precision": 0.5, "val_recall": 0.25, "val_f1": 1 / 3, "val_threshold": t,
            "val_threshold_precision": tp / (tp + fp), "val_threshold_recall": tp / (tp + fn),
            "val_threshold_f1": 2 * tp / (2 * tp + fp + fn), "val_tp": tp, "val_fp": fp, "val_fn": fn, "val_tn": tn}


def run_history(end=True):
    book, h = Epochs(3), History()
    h.add(rec("start", epochs=3, config={}, schema=1))
    for e, (val, t, counts) in enumerate([(0.5, 0.7, (2, 1, 2, 7)), (0.4, 0.35, (4, 2, 0, 6)),
                                          (0.45, 0.6, (3, 0, 1, 8))], start=1):
        fields = book.fields(e, 0.4, val)
        fields["metrics"].update(threshold_metrics(t, *counts))
        h.add(rec("epoch", e, **fields))
    if end:
        h.add(rec("end", 4, **book.end_fields("completed", 3)))
    return h


def test_the_best_epochs_threshold_not_the_last_ones():
    d = decision_of(run_history())
    assert (d.epoch, d.threshold, d.tp, d.fp, d.fn, d.tn) == (2, 0.35, 4, 2, 0, 6)
    assert d.as_json() == {"threshold": 0.35, "threshold_epoch": 2,
                           "confusion_matrix": {"tp": 4, "fp": 2, "fn": 0, "tn": 6},
                           "precision": 4 / 6, "recall": 1.0, "f1": 0.8}
    assert decision_lines(d) == [
        "Decision threshold: 0.3500 (max F1 on the validation set at best epoch 2): precision 0.667, "
        "recall 1.000, F1 0.800",
        "  at 0.5 instead: precision 0.500, recall 0.250, F1 0.333",
        "  Confusion matrix at 0.3500: TP 4 | FP 2 | FN 0 | TN 6",
    ]


def test_logs_without_threshold_metrics_show_nothing():
    book, h = Epochs(2), History()
    h.add(rec("epoch", 1, **book.fields(1, 0.5, 0.5)))  # an older log: accuracy and AUROC only
    assert decision_of(h) is None and decision_lines(None) == []
    assert decision_of(History()) is None


def test_the_viewers_end_lines_carry_the_decision():
    h = run_history(end=False)
    end = rec("end", 4, **Epochs(3).end_fields("completed", 3))
    end.update(best_epoch=2, best_val_loss=0.4)
    h.add(end)
    lines = Events().lines(end, h)
    assert lines[0].startswith("Run ended: completed after 3 epochs, best epoch 2")
    assert lines[1:] == decision_lines(decision_of(h)) and "TP 4 | FP 2 | FN 0 | TN 6" in lines[3]
