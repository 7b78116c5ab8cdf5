"""Folding records into a History: aligned columns, new metric keys, run state."""

import math

from hypothesis import given
from hypothesis import strategies as st

from shared.history import History, history_of


def epoch(n, train, val, best_epoch, metrics=None, epochs=5):
    return {"type": "epoch", "run_id": "r", "seq": n, "time": float(n), "epoch": n, "epochs": epochs,
            "train_loss": train, "val_loss": val, "lr": 1e-3, "seconds": 1.0, "best": best_epoch == n,
            "best_epoch": best_epoch, "best_val_loss": 0.4, "metrics": metrics or {}}


START = {"type": "start", "run_id": "r", "seq": 0, "time": 0.0, "schema": 1, "config": {"lr": 0.01}, "epochs": 5}


def test_columns_align_and_new_metric_keys_are_padded():
    h = history_of([
        START,
        epoch(1, 0.6, 0.7, 1, {"val_accuracy": 0.5}),
        epoch(2, None, 0.5, 2),
        epoch(3, 0.4, 0.45, 3, {"val_accuracy": 0.7, "val_auroc": 0.8}),
        {"type": "gpu_stats", "run_id": "r", "seq": 4, "time": 4.0},
    ])
    assert h.epochs == [1, 2, 3] and h.n_epochs == 3
    assert math.isnan(h.train_loss[1]) and h.val_loss == [0.7, 0.5, 0.45]
    assert h.metrics["val_accuracy"][0] == 0.5 and math.isnan(h.metrics["val_accuracy"][1])
    assert [math.isnan(v) for v in h.metrics["val_auroc"]] == [True, True, False]
    assert h.planned_epochs == 5 and h.config == {"lr": 0.01} and h.best_epoch == 3 and h.records == 5


def test_run_state_moves_from_live_to_stopping_to_finished():
    h = history_of([START, epoch(1, 0.6, 0.7, 1)])
    assert not h.finished and not h.stopping
    h.add({"type": "progress", "run_id": "r", "seq": 2, "time": 2.0, "epoch": 2, "batch": 3, "batches": 10,
           "train_loss": 0.5, "elapsed": 1.0})
    assert h.progress["batch"] == 3
    h.add({"type": "stop_requested", "run_id": "r", "seq": 3, "time": 3.0, "epoch": 2, "stop": {"by": "x"}})
    assert h.stopping
    assert h.add(epoch(2, 0.5, 0.6, 2)) and h.progress is None
    h.add({"type": "end", "run_id": "r", "seq": 5, "time": 5.0, "reason": "stopped", "epochs_run": 2,
           "best_epoch": 2, "best_val_loss": 0.6, "message": ""})
    assert h.finished and not h.stopping and h.best_val_loss == 0.6 and h.last_time == 5.0


def test_empty_history():
    h = history_of([])
    assert h.n_epochs == 0 and h.planned_epochs is None and h.best_epoch is None and h.config == {}


def _state(h):
    """A History's whole state, NaN made comparable."""
    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value
    return clean(dict(vars(h)))


_records = st.lists(st.one_of(
    st.builds(lambda n, train, val, names: epoch(n, train, val, 1, {name: 0.5 for name in names}),
              st.integers(1, 50), st.one_of(st.none(), st.floats(0, 2)), st.one_of(st.none(), st.floats(0, 2)),
              st.lists(st.sampled_from(["val_accuracy", "val_auroc", "f1"]), unique=True, max_size=3)),
    st.just(START),
    st.just({"type": "progress", "run_id": "r", "seq": 9, "time": 9.0, "epoch": 2, "batch": 3, "batches": 10,
             "train_loss": 0.5, "elapsed": 1.0}),
    st.just({"type": "gpu_stats", "run_id": "r", "seq": 4, "time": 4.0}),
), max_size=30)


@given(_records, _records)
def test_extend_folds_exactly_as_add_does(first, then):
    one_by_one = History()
    for record in first + then:
        one_by_one.add(record)
    bulk = History()
    added = bulk.extend(first) + bulk.extend(then)
    assert added == one_by_one.n_epochs
    assert _state(bulk) == _state(one_by_one)
