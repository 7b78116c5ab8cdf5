"""viewer.window on an Agg figure: feed records, read the header, log panel, status and button; click Stop."""

from __future__ import annotations

import io
import json
import os
import socket
import time

import numpy as np
import pytest
from matplotlib.backend_bases import CloseEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import findfont
from matplotlib.ft2font import FT2Font

from fake_run import Epochs, start_fields, write_run
from procs import unwritable
from shared.console import UNICODE, asciify
from shared.logreader import NewRun
from shared.rundir import RunDir
from viewer.events import CATCH_UP_EPOCHS
from viewer.follow import Follower
from viewer.header import header_line, on_screen
from viewer.layout import FIGSIZE
from viewer.limits import hold_limits
from viewer.log_panel import LOG_LINES
from viewer.stop_button import CLOSE_LABEL, STOP_LABEL, STOPPING_LABEL
from viewer.status import STALL_SECONDS
from viewer.terminal import ConsolePrinter
from viewer.window import RunWindow

T0 = 1_000_000.0


class ListSource:
    """Records pushed by the test; due when something is pending. The log 'grows' when records are drained,
    on the test's clock."""

    def __init__(self, clock=None):
        self.pending = []
        self.on_warning = None
        self.drains = 0
        self.clock = clock or (lambda: T0)
        self.grew_at = self.clock()  # records fed with `window.apply` count as just arrived

    def quiet(self):
        return self.clock() - self.grew_at

    def push(self, *items):
        self.pending += items

    def due(self):
        return bool(self.pending)

    def drain(self):
        self.drains += 1
        items, self.pending = self.pending, []
        if items:
            self.grew_at = self.clock()
        return items


class Clock:
    def __init__(self, t=T0):
        self.t = t

    def __call__(self):
        return self.t


class Run:
    """Builds a run's records with increasing seq and time."""

    def __init__(self, epochs=10, run_id="run1"):
        self.book = Epochs(epochs)
        self.epochs = epochs
        self.run_id = run_id
        self.seq = 0

    def rec(self, rtype, **fields):
        r = {"type": rtype, "run_id": self.run_id, "seq": self.seq, "time": T0 + self.seq, **fields}
        self.seq += 1
        return r

    def start(self):
        return self.rec("start", **start_fields(self.epochs, pid=os.getpid()))

    def epoch(self, e, train, val):
        return self.rec("epoch", **self.book.fields(e, train, val))

    def end(self, reason, epochs_run):
        return self.rec("end", **self.book.end_fields(reason, epochs_run))


def hms(t: float) -> str:
    """A request's time as the stop line shows it (local time)."""
    return time.strftime("%H:%M:%S", time.localtime(t))


def make_window(tmp_path, live=True, **kwargs):
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    clock = kwargs.pop("clock", Clock())
    source = ListSource(clock)
    closed = []
    out = io.StringIO()
    window = RunWindow(fig, tmp_path, source, live=live, clock=clock,
                       hostname=socket.gethostname(), alive=kwargs.pop("alive", lambda pid, since: True),
                       out=out, on_close=lambda: closed.append(True), by="test (me@here)", **kwargs)
    return window, source, closed, out


def test_records_make_the_header_log_lines_and_status(tmp_path):
    window, source, _closed, out = make_window(tmp_path)
    assert window.header.get_text() == "Waiting for the run to start"
    assert window.status.kind == "waiting"
    run = Run(epochs=20)
    window.apply([run.start()])
    assert window.header.get_text() == "Epoch 0/20 | waiting for the first epoch to finish"
    assert window.log_lines[-1].startswith(f"Run {run.run_id} started (host ")
    window.apply([run.epoch(e, 0.5 - 0.01 * e, 0.55 - 0.01 * e) for e in range(1, 9)]
                 + [run.epoch(9, 0.33, 0.3535), run.epoch(10, 0.3245, 0.3512)])
    assert window.header.get_text() == ("Epoch 10/20 | Train: 0.3245 | Val: 0.3512 | Gap: +0.0267 | Δ val: -0.0023 | "
                                        "Val acc: 1.0000 | Val AUROC: 0.6000 | Best val: 0.3512 (epoch 10) | lr: 1e-3 ✓")
    assert window.header.get_color() == "#1b5e20"  # a new best is green
    assert window.log_lines[-2] == ("Epoch 10/20 | Train: 0.3245 | Val: 0.3512 | Gap: +0.0267 | Δ val: -0.0023 | "
                                    "Val acc: 1.0000 | Val AUROC: 0.6000")
    assert window.log_lines[-1] == f"  ✓ New best! Saved to {RunDir(tmp_path).checkpoint}"
    assert [t.get_text() for t in window.log_texts][-1] == window.log_lines[-1]
    assert "Epoch 10/20 | Train: 0.3245" in out.getvalue()  # every panel line is printed to the terminal too
    assert window.status.kind == "live" and window.status.text.startswith("live — epoch 11/20")
    assert window.button_label == STOP_LABEL
    window.apply([run.epoch(11, 0.32, 0.36)])
    assert "| Δ val: +0.0088 |" in window.header.get_text()
    assert window.header.get_text().endswith("| Best val: 0.3512 (epoch 10) | lr: 1e-3")
    assert window.header.get_color() == "black"
    assert len(window.panels.train_line.get_xdata()) == 11  # the same line objects, updated in place


def test_header_line_cases():
    from shared.history import History

    h = History()
    assert header_line(h) == ("Waiting for the run to start", False)
    run = Run(epochs=3)
    h.add(run.start())
    h.add(run.epoch(1, None, None))
    assert header_line(h) == ("Epoch 1/3 | Train: nan | Val: nan | Gap: nan | Δ val: — | Val acc: 0.5500 | "
                              "Val AUROC: 0.6000 | lr: 1e-3", False)
    # An lr change reads as on the console: old → new, in place of the plain lr.
    h.add(dict(run.epoch(2, 0.5, 0.5), lr=5e-4))
    assert header_line(h)[0].endswith("| lr: 1e-3 → 5e-4 | Best val: 0.5000 (epoch 2) ✓")


def test_stop_click_writes_the_stop_file_then_end_turns_the_button_into_close(tmp_path):
    window, source, closed, _out = make_window(tmp_path)
    run = Run(epochs=10)
    window.apply([run.start(), run.epoch(1, 0.5, 0.52), run.epoch(2, 0.4, 0.42)])
    window.click()
    request = json.loads((tmp_path / "STOP").read_text())
    assert request["by"] == "test (me@here)" and request["run_id"] == run.run_id
    assert isinstance(request["requested_at"], float)
    assert window.button_label == STOPPING_LABEL and not window.button.active
    assert window.button.label.get_text() == "Stopping..."
    assert window.status.text == "stop requested: stopping after epoch 3"
    asked = f"Stop requested by test (me@here) at {hms(request['requested_at'])}"
    assert window.log_lines[-1] == f"{asked}: waiting for the trainer to answer"
    window.click()  # disabled: nothing happens
    assert window.button_label == STOPPING_LABEL
    window.apply([run.rec("stop_requested", epoch=3, stop=request)])
    assert window.status.text == "stopping after epoch 3"
    # One line, not two: the trainer's answer takes the waiting line's place, in the terminal viewer's words.
    assert window.log_lines[-1] == f"{asked}: the trainer stops after epoch 3"
    assert [line for line in window.log_lines if "Stop" in line] == [window.log_lines[-1]]
    window.apply([run.epoch(3, 0.35, 0.37), run.end("stopped", 3)])
    assert window.button_label == CLOSE_LABEL and window.button.active
    assert window.ax_button.get_facecolor()[:3] == pytest.approx((0x2C / 255, 0xA0 / 255, 0x2C / 255))
    assert window.status.text == "finished: stopped on request, best epoch 3 (val loss 0.3700)"
    assert closed == []
    window.click()
    assert closed == [True] and window.closed


def test_a_stop_already_requested_is_said_and_not_overwritten(tmp_path):
    (tmp_path / "STOP").write_text(json.dumps({"by": "stlar-dl stop (bob@gpu)", "requested_at": 1.0, "run_id": "x"}))
    window, _source, _closed, _out = make_window(tmp_path)
    run = Run()
    window.apply([run.start()])
    window.click()
    assert window.log_lines[-1] == \
        f"Stop requested by stlar-dl stop (bob@gpu) at {hms(1.0)}: waiting for the trainer to answer"
    assert json.loads((tmp_path / "STOP").read_text())["by"] == "stlar-dl stop (bob@gpu)"
    assert window.button_label == STOPPING_LABEL


def test_stop_after_the_last_planned_epoch_writes_nothing_and_says_why(tmp_path):
    window, _source, _closed, _out = make_window(tmp_path)
    run = Run(epochs=3)
    window.apply([run.start()] + [run.epoch(e, 0.5, 0.52) for e in (1, 2, 3)])
    window.click()
    assert not (tmp_path / "STOP").exists()
    assert window.log_lines[-1] == \
        "Nothing to stop: the run has finished its last epoch (3/3) and is writing its outputs"
    assert window.button_label == STOP_LABEL and "finishing" in window.status.text


def test_a_run_dir_the_viewer_cannot_write_explains_instead_of_crashing(tmp_path, monkeypatch):
    window, _source, _closed, _out = make_window(tmp_path)
    window.apply([Run().start()])
    with unwritable(tmp_path, monkeypatch):
        window.click()
    assert not (tmp_path / "STOP").exists()
    assert window.log_lines[-1].startswith("⚠ Cannot stop the run: ")
    assert "cannot write the stop file (Permission denied)" in window.log_lines[-1]
    assert window.status.text.endswith(" | Stop failed: see the log panel")
    assert window.button_label == STOP_LABEL  # still clickable once the permissions are fixed


def test_click_before_any_run_writes_nothing(tmp_path):
    window, _source, _closed, _out = make_window(tmp_path / "not-yet")
    window.click()
    assert window.log_lines[-1] == f"No run to stop yet: nothing has started in {tmp_path / 'not-yet'}"
    assert not (tmp_path / "not-yet").exists()
    assert window.button_label == STOP_LABEL


def test_a_new_run_resets_the_view_and_says_so(tmp_path):
    window, _source, _closed, _out = make_window(tmp_path)
    old = Run(epochs=3, run_id="old")
    window.apply([old.start(), old.epoch(1, 0.5, 0.52), old.end("completed", 1)])
    assert window.button_label == CLOSE_LABEL
    new = Run(epochs=5, run_id="new")
    window.apply([NewRun("new", "log replaced"), new.start()])
    assert "New run new in this run dir (log replaced): view reset" in window.log_lines
    assert window.header.get_text() == "Epoch 0/5 | waiting for the first epoch to finish"
    assert window.button_label == STOP_LABEL
    assert len(window.panels.train_line.get_xdata()) == 0


def test_replay_mode_has_a_close_button_and_a_crashed_run_says_so(tmp_path):
    clock = Clock()
    window, _source, closed, _out = make_window(tmp_path, live=False, alive=lambda pid, since: False, clock=clock)
    run = Run(epochs=5)
    window.apply([run.start(), run.epoch(1, 0.5, 0.52)])
    assert window.button_label == CLOSE_LABEL
    # The pid is gone but the log grew just now: not dead for sure (a container's pid is not ours).
    assert window.status.kind == "live" and "trainer pid" in window.status.text
    clock.t += STALL_SECONDS + 1
    window.tick()
    assert window.status.kind == "crashed"
    assert window.status.text.startswith("crashed: no end record, trainer pid")


def test_a_crashed_run_gets_a_green_close_button(tmp_path):
    clock = Clock()
    window, source, closed, out = make_window(tmp_path, clock=clock, alive=lambda pid, since: False)
    run = Run()
    source.push(run.start(), run.epoch(1, 0.5, 0.52))
    window.tick()
    assert window.button_label == STOP_LABEL, "records just arrived: live, whatever the pid check says"
    clock.t += STALL_SECONDS + 1
    window.tick()
    assert window.status.kind == "crashed" and window.button_label == CLOSE_LABEL
    assert window.button.color == "#2ca02c"
    assert "The run crashed (no end record, trainer gone): the button closes this window" in out.getvalue()
    # The panel shows it at once, after the report the terminal viewer prints for a crashed run, said once.
    printer = ConsolePrinter(io.StringIO(), tmp_path)
    printer.feed([run.start(), run.epoch(1, 0.5, 0.52)])
    printer.out = terminal = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # a UTF-8 terminal's glyphs
    printer.g = UNICODE
    printer.report(None)
    terminal.flush()
    report = [on_screen(line) for line in terminal.buffer.getvalue().decode().splitlines() if line.strip()]
    assert any(line.startswith("Best epoch: 1") for line in report)
    assert [line for line in window.log_lines[:-1] if line.strip()][-len(report):] == report
    assert [text.get_text() for text in window.log_texts][-1] == on_screen(window.log_lines[-1])
    clock.t += 60
    window.tick()  # the status's numbers change ("quiet for 3 min"): the report is not said again
    assert window.log_lines.count("Training ended without an end record (crashed or killed)") == 1
    window.click()
    assert closed == [True] and not (tmp_path / "STOP").exists()


def test_a_stop_the_trainer_never_answers_offers_close(tmp_path):
    clock = Clock()
    window, source, closed, out = make_window(tmp_path, clock=clock)
    run = Run()
    source.push(run.start(), run.epoch(1, 0.5, 0.52))
    window.tick()
    window.click()
    assert window.button_label == STOPPING_LABEL and (tmp_path / "STOP").exists()
    for _ in range(4):  # the trainer keeps writing (its heartbeat) but never answers the stop request
        clock.t += 30
        source.push(run.rec("progress", epoch=2, batch=1, batches=9, train_loss=0.5, elapsed=1.0))
        window.tick()
    assert window.status.text.startswith("the trainer did not answer the stop request for 2 min")
    assert window.button_label == CLOSE_LABEL
    # The terminal heard of the request once, before the line that says it went unanswered.
    said = out.getvalue().splitlines()
    waiting = [i for i, line in enumerate(said) if line.startswith("Stop requested by test (me@here) at ")]
    gave_up = [i for i, line in enumerate(said) if line.startswith("The trainer did not answer the stop request within 90 s")]
    assert len(waiting) == len(gave_up) == 1 and waiting[0] < gave_up[0]
    assert said[waiting[0]].endswith(": waiting for the trainer to answer")
    window.click()
    assert closed == [True]
    assert sum(line.startswith("Stop requested") for line in out.getvalue().splitlines()) == 1  # not again


def test_one_stop_line_in_the_window_and_in_its_terminal_in_the_terminal_viewers_words(tmp_path):
    window, _source, _closed, out = make_window(tmp_path)
    run = Run(epochs=10)
    records = [run.start(), run.epoch(1, 0.5, 0.52), run.epoch(2, 0.4, 0.42)]
    window.apply(records)
    window.click()
    # The waiting line is the panel's only: the terminal gets the line once it is final.
    assert "Stop requested" not in out.getvalue()
    request = json.loads((tmp_path / "STOP").read_text())
    records += [run.rec("stop_requested", epoch=3, stop=request), run.epoch(3, 0.35, 0.37), run.end("stopped", 3)]
    window.apply(records[3:])
    terminal = io.StringIO()
    ConsolePrinter(terminal, tmp_path).feed(records)  # `watch --no-window` (and replay) on the same records
    stop_lines = [[line for line in text if line.startswith("Stop requested")]
                  for text in (window.log_lines, out.getvalue().splitlines(), terminal.getvalue().splitlines())]
    expected = f"Stop requested by test (me@here) at {hms(request['requested_at'])}: the trainer stops after epoch 3"
    assert stop_lines == [[expected]] * 3


def test_the_answer_replaces_the_waiting_line_whoever_it_names_and_wherever_it_is(tmp_path):
    (tmp_path / "STOP").write_text(json.dumps({"by": "stlar-dl stop (bob@gpu)", "requested_at": 1.0}))
    window, _source, closed, out = make_window(tmp_path)
    run = Run(epochs=10)
    window.apply([run.start(), run.epoch(1, 0.5, 0.52)])
    window.click()  # bob's request is in the stop file already: the window waits for its answer
    waiting = len(window.log_lines) - 1
    between = "a line that came in between " * 12  # wraps onto several rows
    window.log.add(between)
    window.apply([run.rec("stop_requested", epoch=2, stop={"by": "stlar-dl stop (bob@gpu)", "requested_at": 1.0})])
    said = f"Stop requested by stlar-dl stop (bob@gpu) at {hms(1.0)}: the trainer stops after epoch 2"
    assert window.log_lines[waiting:] == [on_screen(between), said]  # said once, at the end, in order
    assert sum(line.startswith("Stop requested") for line in window.log_lines) == 1
    # The panel's rows are the lines wrapped afresh: taking a line away kept rows and lines in step.
    assert window.log.rows == [row for line in window.log_lines for row in window.log._wrap(line)]
    window.click()  # Stopping...: nothing
    window.close()
    assert out.getvalue().count("Stop requested") == 1 and closed == [True]


def test_closing_the_window_while_the_stop_waits_tells_the_terminal_once(tmp_path):
    window, _source, _closed, out = make_window(tmp_path)
    run = Run(epochs=10)
    window.apply([run.start(), run.epoch(1, 0.5, 0.52)])
    window.click()
    window.close()
    window.fig.canvas.callbacks.process("close_event", CloseEvent("close_event", window.fig.canvas))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("Stop requested")]
    assert len(lines) == 1 and lines[0].endswith(": waiting for the trainer to answer")


def test_tick_is_cheap_when_nothing_changed_and_refreshes_the_status_when_due(tmp_path):
    clock = Clock()
    window, source, _closed, _out = make_window(tmp_path, clock=clock)
    run = Run()
    source.push(run.start(), run.epoch(1, 0.5, 0.52))
    window.tick()
    assert source.drains == 1 and window.frames == 1
    for _ in range(10):
        window.tick()  # nothing due, status fresh: no drain, no redraw
    assert source.drains == 1 and window.frames == 1
    clock.t += 30  # the log has been quiet 30 s (on the viewer's clock): the status line says so, once
    window.tick()
    assert window.frames == 2 and window.status.text.endswith("last record 30 s ago")
    window.tick()
    assert window.frames == 2


def test_an_idle_live_window_redraws_its_status_only_when_its_words_can_change(tmp_path):
    # Each redraw of the status line renders its glyphs (~12 ms): an idle window must not do it every few
    # seconds. The verdict still changes on time: the age appears past 5 s, stalled? past 90 s of quiet.
    clock = Clock()
    window, source, _closed, _out = make_window(tmp_path, clock=clock)
    run = Run()
    source.push(run.start(), run.epoch(1, 0.5, 0.52))
    window.tick()
    redrawn, frames = [], window.frames
    for second in range(1, 151):  # the 1-s ticks of an idle window, no record arriving
        clock.t += 1
        window.tick()
        if window.frames != frames:
            frames = window.frames
            redrawn.append((second, window.status.kind))
    assert redrawn == [(6, "live"), (36, "live"), (66, "live"), (91, "stalled")]
    assert window.status.text.startswith("stalled?: no record for 2 min")


def test_an_epoch_inside_the_held_axes_is_blitted_not_drawn_in_full(tmp_path, monkeypatch):
    window, source, _closed, _out = make_window(tmp_path)
    full, frames = [], []
    canvas = window.fig.canvas
    real_draw = canvas.draw
    monkeypatch.setattr(canvas, "draw", lambda: full.append(1) or real_draw())
    canvas.mpl_connect("draw_event", lambda _e: frames.append(1))
    run = Run(epochs=60)
    curve = [(0.7 / (1 + 0.1 * e), 0.72 / (1 + 0.1 * e)) for e in range(60)]
    source.push(run.start())
    window.tick()
    for e, (train, val) in enumerate(curve, 1):
        source.push(run.epoch(e, train, val))
        window.tick()
    assert window.frames == 61
    # The axes grow by a margin when the data leave them: most epochs are blitted.
    assert len(full) < 20, len(full)
    assert len(frames) == window.frames + len(full)  # a draw_event ends every frame (full ones have two)
    # The held limits still show all the data.
    lo, hi = window.panels.ax_loss.get_ylim()
    assert lo <= min(min(c) for c in curve) and max(max(c) for c in curve) <= hi
    assert window.panels.ax_loss.get_xlim()[1] >= 60
    # A draw we did not make (a resize, the toolbar) makes the next frame a full one again.
    canvas.draw()
    n = len(full)
    window.apply([run.end("completed", 60)])
    assert len(full) == n + 1


def test_blitted_frames_show_exactly_what_a_full_draw_shows(tmp_path):
    clock = Clock()
    window, source, _closed, _out = make_window(tmp_path, clock=clock)
    canvas = window.fig.canvas
    full = []
    real_draw = canvas.draw
    canvas.draw = lambda: full.append(1) or real_draw()
    run = Run(epochs=12)
    source.push(run.start(), *[run.epoch(e, 0.7 / e, 0.75 / e) for e in range(1, 6)])
    window.tick()
    # Epochs inside the held axes (the log scrolls by one line, then by two with the plateau warning), a stop
    # click, status-only frames: all blitted.
    blitted = 0
    for e in range(6, 12):
        before = len(full)
        source.push(run.epoch(e, 0.14, 0.16 + 0.0001 * e))
        window.tick()
        blitted += len(full) == before
    assert blitted >= 3, "epochs inside the held axes make no full draw"
    assert any(line.startswith("⚠ PLATEAU") for line in window.log_lines)
    window.click()
    clock.t += 30
    window.tick()
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    canvas.draw()  # everything from scratch
    full = np.asarray(canvas.buffer_rgba())
    differs = np.argwhere(np.any(blitted != full, axis=-1))
    assert differs.size == 0, f"{len(differs)} pixels differ, e.g. at (row, col) {differs[:3].tolist()}"


def test_metric_curves_and_lr_labels_update_live_with_the_pixels_of_a_full_draw(tmp_path):
    window, source, _closed, _out = make_window(tmp_path)
    canvas = window.fig.canvas
    full = []
    real_draw = canvas.draw
    canvas.draw = lambda: full.append(1) or real_draw()
    run = Run(epochs=12)
    source.push(run.start(), *[run.epoch(e, 0.7 / e, 0.75 / e) for e in range(1, 6)])
    window.tick()
    auroc = window.panels.metrics.lines["val_auroc"]
    assert window.panels.ax_metrics.get_visible() and len(auroc.get_xdata()) == 5
    # Epochs inside the held axes, the last at a new lr: blitted frames show the new metric points and the lr
    # label exactly as a full draw does.
    n_full = len(full)
    for e in range(6, 9):
        record = run.epoch(e, 0.14, 0.16 - 0.001 * e)
        record["lr"] = 5e-4 if e == 8 else 1e-3
        source.push(record)
        window.tick()
    assert len(full) == n_full, "epochs inside the held axes are blitted"
    assert len(auroc.get_xdata()) == 8 and auroc.get_ydata()[-1] == 0.6
    assert [t.get_text() for t in window.panels.lr_marks.texts if t.get_text()] == ["lr 5e-4"]
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    real_draw()
    fresh = np.asarray(canvas.buffer_rgba())
    differs = np.argwhere(np.any(blitted != fresh, axis=-1))
    assert differs.size == 0, f"{len(differs)} pixels differ, e.g. at (row, col) {differs[:3].tolist()}"


@pytest.mark.parametrize(
    "held, tight, cap, expected",
    [
        (None, (0.5, 3.5), None, (0.5, 3.5)),  # first fit: as tight as the shared figure
        ((0.5, 10.5), (0.5, 8.5), None, (0.5, 10.5)),  # inside: hold
        ((0.5, 10.5), (0.5, 11.5), None, (0.5, 16.5)),  # out on the right: grow by half the held span ...
        ((0.5, 1.5), (0.5, 11.5), None, (0.5, 14.25)),  # ... or by 25 % of the data range, if more
        ((0.5, 10.5), (0.5, 11.5), 12.5, (0.5, 12.5)),  # ... but not past the planned last epoch
        ((0.2, 0.7), (0.1, 0.7), None, (-0.15, 0.7)),  # a new low loss: the bottom moves
    ],
)
def test_hold_limits(held, tight, cap, expected):
    assert hold_limits(held, tight, 0.25, cap=cap) == pytest.approx(expected)


def test_png_is_rewritten_after_each_epoch(tmp_path):
    png = tmp_path / "live.png"
    window, _source, _closed, _out = make_window(tmp_path, png=png)
    run = Run()
    window.apply([run.start()])
    assert not png.exists()
    window.apply([run.epoch(1, 0.5, 0.52)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_character_on_screen_has_a_glyph_in_the_font(tmp_path):
    window, _source, _closed, _out = make_window(tmp_path)
    run = Run(epochs=12)
    curve = [(0.5, 0.52), (0.45, 0.47), (0.4, 0.42)] + [(0.4, 0.42)] * 6 + [(0.1, 0.5)]
    window.apply([run.start()] + [run.epoch(e, t, v) for e, (t, v) in enumerate(curve, 1)])
    window.click()
    # A warning (title, measured numbers, "→ Try:" advice) is among the lines on screen.
    assert any(line.startswith("⚠ OVERFITTING detected") for line in window.log_lines)
    assert any(line.startswith("   → Try:") for line in window.log_lines)
    texts = [window.header, window.status_text, window.caption, window.button.label, *window.log_texts]
    for artist in texts:
        charmap = FT2Font(findfont(artist.get_fontproperties())).get_charmap()
        missing = {c for c in artist.get_text() if ord(c) not in charmap}
        assert not missing, f"{artist.get_text()!r}: no glyph for {missing}"
    assert on_screen("⚠️ PLATEAU") == "⚠ PLATEAU"


def test_attach_to_a_long_run_catches_up_at_once(tmp_path):
    n = CATCH_UP_EPOCHS + 1500
    write_run(RunDir(tmp_path).log, [(1.0, 1.02)] * n)
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    out = io.StringIO()
    with Follower(tmp_path) as follower:
        window = RunWindow(fig, tmp_path, follower, out=out, hostname="elsewhere")
        window.tick()
    assert window.history.n_epochs == n
    assert window.button_label == CLOSE_LABEL
    printed = out.getvalue().splitlines()
    keep = CATCH_UP_EPOCHS
    assert printed[0] == (f"(catching up on {n} epochs: showing the last {keep} epochs; diagnostics "
                          f"warnings are worked out for the last {keep} only)")
    epoch_lines = [line for line in printed if line.startswith("Epoch ")]
    assert [int(line.split("/")[0].split()[1]) for line in epoch_lines] == list(range(n - keep + 1, n + 1))
    assert asciify(epoch_lines[-1], UNICODE) == epoch_lines[-1]  # (the StringIO printed ASCII stand-ins)
    assert [line for line in window.log_lines if line.startswith("Epoch ")][-1].startswith(f"Epoch {n}/{n} |")
    fig.canvas.draw()


def test_malformed_log_lines_are_skipped_with_a_warning_naming_the_line(tmp_path):
    rd = RunDir(tmp_path)
    records = write_run(rd.log, 2)
    lines = rd.log.read_bytes().splitlines(keepends=True)
    rd.log.write_bytes(lines[0] + b"{not json\n" + b"x" * 100 + b"\n" + b"".join(lines[1:]))
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    with Follower(tmp_path) as follower:
        window = RunWindow(fig, tmp_path, follower, out=None)
        window.tick()
    assert window.history.n_epochs == 2 and window.history.finished
    warnings = [line for line in window.log_lines if line.startswith("⚠ ")]
    assert warnings[0].startswith("⚠ training_log.jsonl line 2: skipped (not valid JSON")
    assert warnings[1].startswith("⚠ training_log.jsonl line 3: skipped")
    assert records[-1]["type"] == "end"


def test_closing_the_window_never_stops_training(tmp_path):
    window, _source, closed, _out = make_window(tmp_path)
    window.apply([Run().start()])
    CloseEvent("close_event", window.fig.canvas)._process()  # what the window manager's close button does
    assert window.closed and closed == []  # the Close button's action did not run
    assert not (tmp_path / "STOP").exists()


def test_reopening_gives_the_same_view(tmp_path):
    write_run(RunDir(tmp_path).log, [(0.5, 0.52), (0.45, 0.5), (0.44, 0.52), (0.43, 0.53)], end=None, planned=9)
    frames = []
    for _ in range(2):
        fig = Figure(figsize=FIGSIZE)
        FigureCanvasAgg(fig)
        # The same moment both times: the view depends on the log and on how long it has been quiet.
        written = RunDir(tmp_path).log.stat().st_mtime
        with Follower(tmp_path, clock=lambda: T0, wall=lambda: written + 2.0) as follower:
            window = RunWindow(fig, tmp_path, follower, out=None, clock=lambda: T0, alive=lambda pid, since: True)
            window.tick()
        frames.append((window.header.get_text(), list(window.log_lines), window.status.text,
                       np.asarray(fig.canvas.buffer_rgba()).copy()))
    (h1, l1, s1, px1), (h2, l2, s2, px2) = frames
    assert (h1, l1, s1) == (h2, l2, s2)
    assert np.array_equal(px1, px2)


def test_a_panel_whose_limits_move_is_redrawn_alone_with_the_pixels_of_a_full_draw(tmp_path):
    window, source, _closed, _out = make_window(tmp_path)
    canvas = window.fig.canvas
    full, panels = [], []
    real_draw, real_draw_artist = canvas.draw, window.fig.draw_artist
    canvas.draw = lambda: full.append(1) or real_draw()
    window.fig.draw_artist = lambda a: (panels.append(a) if a in window._axes else None) or real_draw_artist(a)
    run = Run(epochs=40)
    source.push(run.start(), *[run.epoch(e, 0.5 - 0.01 * e, 0.55 - 0.01 * e) for e in range(1, 6)])
    window.tick()
    assert window.panels.ax_loss.get_xlim() == (0.5, 40.5)  # the planned epochs, from the start
    n_full, ylim = len(full), window.panels.ax_loss.get_ylim()
    # A loss far below the held range: the loss panel's y axis grows (so do the gap and improvement panels').
    source.push(run.epoch(6, 0.05, 0.1))
    window.tick()
    assert window.panels.ax_loss.get_ylim() != ylim
    assert len(full) == n_full, "limits that move are a panel redraw, not a full draw"
    assert window.panels.ax_loss in panels
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    real_draw()
    fresh = np.asarray(canvas.buffer_rgba())
    differs = np.argwhere(np.any(blitted != fresh, axis=-1))
    assert differs.size == 0, f"{len(differs)} pixels differ, e.g. at (row, col) {differs[:3].tolist()}"


def test_the_button_changing_redraws_the_button_alone_with_the_pixels_of_a_full_draw(tmp_path):
    window, source, _closed, _out = make_window(tmp_path)
    canvas = window.fig.canvas
    full = []
    real_draw = canvas.draw
    canvas.draw = lambda: full.append(1) or real_draw()
    run = Run(epochs=10)
    source.push(run.start(), *[run.epoch(e, 0.5, 0.55) for e in range(1, 4)])
    window.tick()
    n_full = len(full)
    window.click()  # Stop Training -> Stopping...
    assert window.button_label == STOPPING_LABEL
    window.apply([run.end("stopped", 3)])  # -> Close
    assert window.button_label == CLOSE_LABEL
    assert len(full) == n_full, "a new button label is a button redraw, not a full draw"
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    real_draw()
    fresh = np.asarray(canvas.buffer_rgba())
    differs = np.argwhere(np.any(blitted != fresh, axis=-1))
    assert differs.size == 0, f"{len(differs)} pixels differ, e.g. at (row, col) {differs[:3].tolist()}"
