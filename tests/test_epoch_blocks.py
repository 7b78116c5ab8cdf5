"""A reader in `epoch_blocks` mode (what the window reads with) tells the same story as one yielding dicts:
the same History, the same log-panel lines, whatever the log holds and however it is cut into appends."""

import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from shared.fastrecords import EpochBlock
from shared.history import History
from shared.logreader import LogReader, NewRun
from shared.records import encode
from viewer.events import Events
from viewer.layout import FIGSIZE
from viewer.window import RunWindow


def start(run_id, seq=0):
    return {"type": "start", "run_id": run_id, "seq": seq, "time": float(seq), "schema": 1, "config": {},
            "epochs": 99}


def epoch(run_id, seq, n, train=0.5, val=0.6, metrics=None, **extra):
    return {"type": "epoch", "run_id": run_id, "seq": seq, "time": float(seq), "epoch": n, "epochs": 99,
            "train_loss": train, "val_loss": val, "lr": 1e-3, "seconds": 1, "best": n % 3 == 1,
            "best_epoch": n, "best_val_loss": val, "metrics": {"val_accuracy": 0.5} if metrics is None else metrics,
            **extra}


def progress(run_id, seq, n):
    return {"type": "progress", "run_id": run_id, "seq": seq, "time": float(seq), "epoch": n, "batch": 1,
            "batches": 9, "train_loss": 0.5, "elapsed": 1.0}


def state(h: History) -> dict:
    """A History's state, NaN made comparable; `records` (how many records were folded) left out: a block
    reader drops the progress records an epoch supersedes."""
    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value
    return {k: clean(v) for k, v in vars(h).items() if k != "records"}


def fold(history: History, items) -> History:
    for item in items:
        if isinstance(item, NewRun):
            history = History()
        else:
            history.add(item)
    return history


# One element of a log: ("epoch", train, val, metrics, extra), ("progress",), ("odd", what), ("new_run",)
_losses = st.one_of(st.none(), st.floats(0, 2), st.integers(0, 3))
_elements = st.lists(st.one_of(
    st.tuples(st.just("epoch"), _losses, _losses,
              st.sampled_from([{"val_accuracy": 0.5}, {"val_accuracy": None, "val_auroc": 0.7}, {}]),
              st.sampled_from([{}, {"pid": 7, "host": "h"}, {"note": "an extra field"}])),
    st.tuples(st.just("progress")),
    st.tuples(st.sampled_from(["garbage", "gpu_stats", "seq_jump", "new_run"])),
), max_size=40)


def write(elements) -> list[bytes]:
    run, seq, n = "r1", 0, 0
    lines = [encode(start(run))]
    for element in elements:
        seq += 1
        kind = element[0]
        if kind == "epoch":
            n += 1
            _, train, val, metrics, extra = element
            lines.append(encode(epoch(run, seq, n, train, val, metrics, **extra)))
        elif kind == "progress":
            lines.append(encode(progress(run, seq, n + 1)))
        elif kind == "garbage":
            lines.append(b'{"type":"epoch","run_id":\n')
        elif kind == "gpu_stats":
            lines.append(encode({"type": "gpu_stats", "run_id": run, "seq": seq, "time": 1.0}))
        elif kind == "seq_jump":
            seq += 5
            lines.append(encode(progress(run, seq, n + 1)))
        else:
            run, seq, n = run + "x", 0, 0
            lines.append(encode(start(run)))
    return lines


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_elements, st.lists(st.integers(1, 10_000), max_size=4))
def test_blocks_fold_into_the_same_history_as_records(tmp_path, elements, cuts):
    data = b"".join(write(elements))
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(b"")
    plain, blocked = LogReader(log, latest_progress=True), LogReader(log, latest_progress=True, epoch_blocks=True)
    h_plain, h_blocked = History(), History()
    points = sorted({c % len(data) for c in cuts} - {0}) + [len(data)]
    done = 0
    for point in points:  # appended in pieces, read between them: blocks and torn lines cross the cuts
        with open(log, "ab") as fh:
            fh.write(data[done:point])
        done = point
        h_plain = fold(h_plain, plain.poll())
        h_blocked = fold(h_blocked, blocked.poll())
    assert state(h_blocked) == state(h_plain)
    assert blocked.warnings == plain.warnings
    log.unlink()


def test_a_long_run_of_epochs_is_one_block_and_progress_an_epoch_supersedes_is_dropped(tmp_path):
    log = tmp_path / "training_log.jsonl"
    lines = [encode(start("r"))]
    for n in range(1, 101):
        lines += [encode(progress("r", 2 * n - 1, n)), encode(epoch("r", 2 * n, n))]
    lines.append(encode(progress("r", 201, 101)))
    log.write_bytes(b"".join(lines))
    items = LogReader(log, latest_progress=True, epoch_blocks=True).poll()
    assert [type(item).__name__ for item in items] == ["dict", "EpochBlock", "dict"]
    assert len(items[1]) == 100 and items[1].last_best() == 100
    assert items[1].records() == [epoch("r", 2 * n, n) for n in range(1, 101)]
    assert items[2]["type"] == "progress" and items[2]["epoch"] == 101


def test_the_catch_up_split_cuts_a_block_and_gives_the_rest_as_records(tmp_path):
    log = tmp_path / "training_log.jsonl"
    log.write_bytes(b"".join([encode(start("r"))] + [encode(epoch("r", n, n)) for n in range(1, 11)]))
    items = LogReader(log, latest_progress=True, epoch_blocks=True).poll()
    bulk, rest = Events.split(items, 7)
    assert bulk[0]["type"] == "start" and type(bulk[1]) is EpochBlock and len(bulk[1]) == 7
    assert rest == [epoch("r", n, n) for n in range(8, 11)]
    assert Events().catch_up(items, keep=3) == 0  # a short run: every epoch gets its line
    bulk, rest = Events.split(items, 0)
    assert bulk == [] and rest[0]["type"] == "start" and len(rest) == 11


def test_the_window_shows_the_same_run_from_blocks_as_from_records(tmp_path):
    log = tmp_path / "training_log.jsonl"
    lines = [encode(start("r"))]
    for n in range(1, 1201):
        lines += [encode(progress("r", 2 * n - 1, n)), encode(epoch("r", 2 * n, n, 1.0 / n, 1.2 / n))]
    log.write_bytes(b"".join(lines))

    def shown(epoch_blocks):
        fig = Figure(figsize=FIGSIZE)
        FigureCanvasAgg(fig)
        out = io.StringIO()
        source = _Once(LogReader(log, latest_progress=True, epoch_blocks=epoch_blocks).poll())
        window = RunWindow(fig, tmp_path, source, out=out, hostname="elsewhere")
        window.tick()
        return window.log_lines, window.header.get_text(), state(window.history), out.getvalue()

    assert shown(True) == shown(False)


class _Once:
    """A window source that hands over `items` on the first drain."""

    def __init__(self, items):
        self.items, self.on_warning = items, None

    def due(self):
        return bool(self.items)

    def drain(self):
        items, self.items = self.items, []
        return items

    def quiet(self):
        return 0.0
