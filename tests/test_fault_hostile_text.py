"""Fault: hostile text and absurd numbers in a log and its path. A run dir named `$EXP_$RUN`, a run id, host,
end reason and message carrying terminal escape sequences, an end reason this version does not know, times
of 1e20, epochs out of order and above the planned count. Every view shows the run (no traceback, no blank
window), the terminal gets no control character, and the trainer archives such a run on its next start.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fake_run import Epochs, start_fields
from faults import Row, stlar_cli
from procs import run as run_cmd
from shared.logwriter import LogWriter
from shared.records import END, EPOCH, START
from shared.rundir import RunDir
from viewer.replay import ReplaySource, load_run
from viewer.window import RunWindow

HERE = "tests/test_fault_hostile_text.py"
ESC = "\x1b]0;pwned\x07\x1b[2J"  # retitles and clears a terminal


def hostile_run(run_dir):
    rd = RunDir(run_dir)
    run_dir.mkdir(parents=True)
    book = Epochs(5)
    with LogWriter(rd.log, run_id=f"run{ESC}", clock=lambda: 1e20, fsync=False) as log:
        log.write(START, **start_fields(5, host=f"host{ESC}", model_type=f"m{ESC}$x$"))
        for epoch in (3, 1, 2, 50):  # out of order, and one far above the planned 5
            log.write(EPOCH, **book.fields(epoch, 0.5 / epoch, 0.6 / epoch))
        log.write(END, **{**book.end_fields(f"preempted{ESC}", 4), "message": f"bye{ESC}"})
    return rd


def test_hostile_text_and_absurd_numbers_in_every_view(tmp_path):
    row = Row("Hostile text and absurd numbers", "a run dir named `$EXP_$RUN`; run id, host, end reason, message "
              "and a config string with terminal escapes; an unknown end reason; times of 1e20; epochs 3, 1, 2, "
              "50 of 5", "{views} views (replay --png, --no-window, --speed, watch --no-window, stop, the window, "
              "the trainer's archive step): no traceback, no control character on the terminal, the run shown "
              "as ended with its reason", times_key="views", command=f"pytest {HERE}")
    rd = hostile_run(tmp_path / "$EXP_$RUN")
    png = tmp_path / "out.png"
    commands = [("replay", rd.path, "--png", png), ("replay", rd.path, "--no-window"),
                ("replay", rd.path, "--no-window", "--speed", "1000"), ("watch", rd.path, "--no-window")]
    for args in commands:
        done = run_cmd(stlar_cli(*args))
        assert done.returncode == 0, (args, done.stderr)
        for stream in (done.stdout, done.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "Traceback" not in stream, (args, stream)
        if args[-1] != png:
            assert "Training ended: preempted\\x1b]0;pwned\\x07\\x1b[2J" in done.stdout, done.stdout
        row.add("views")
    assert png.read_bytes()[:4] == b"\x89PNG"
    stop = run_cmd(stlar_cli("stop", rd.path))
    assert stop.returncode == 2 and "has already ended (preempted\\x1b" in stop.stderr, stop.stderr
    assert "\x1b" not in stop.stderr
    row.add("views")
    # The window draws it all (mathtext would fail on `$EXP_$RUN` and `$x$`).
    fig = Figure()
    FigureCanvasAgg(fig)
    records, warnings = load_run(rd.path)
    window = RunWindow(fig, rd.path, ReplaySource(records, warnings), live=False, out=io.StringIO())
    window.tick()
    fig.canvas.draw()
    assert window.status.text.startswith("finished: preempted")
    assert all("\x1b" not in line for line in window.log_lines)
    row.add("views")
    # The trainer's next run in this folder archives this one (its start time is no date) without a traceback.
    (rd.path / "best.pt").write_bytes(b"old")
    from trainer.run_dir import archive_previous_run

    dest = archive_previous_run(rd)
    assert dest is not None and (dest / "training_log.jsonl").exists()
    row.add("views")
    row.save()
