"""Fault: hostile files. A pickled segment, a `best.pt` that carries a pickle payload, and a log with a 100 MB
line, deeply nested JSON, non-UTF-8 bytes, lone surrogates, NUL bytes, extreme numbers, or a FIFO where the
log should be. Nothing of ours may run a payload; the viewer may neither crash nor hang nor hold the big line
in memory.

A payload here is a pickle whose unpickling creates a marker file: the tests look for the marker after every
command that touches the file.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fake_run import Epochs, start_fields, write_run
from faults import (  # noqa: F401 - fixtures
    REPO,
    TIMEOUT,
    Payload,
    Row,
    child_env,
    data60,
    max_rss_kb,
    max_rss_wrapper,
    n,
    one_error_line,
    pickle_bytes,
    stlar_cli,
    train_argv,
    zygote,
)
from procs import Spawned
from shared.history import History
from shared.logreader import LogReader, read_log
from shared.records import decode
from viewer.events import Events
from viewer.terminal import ConsolePrinter
from viewer.window import RunWindow

HERE = "tests/test_fault_hostile_files.py"
BIG_LINE = 100 << 20  # bytes: the 100 MB line
RSS_MARGIN_KB = 64 << 10  # a viewer reading the hostile log may use at most this much more than on a clean one


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=child_env(), capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=TIMEOUT * 2, **kwargs)


# ---- pickles: segments and checkpoints ----------------------------------------------------------------
def _with_segment(data: Path, dest: Path, segment: bytes | None = None, save=None) -> Path:
    """A copy of the demo data whose first training row points at a hostile segment file."""
    shutil.copytree(data, dest)
    manifest = dest / "manifest_train.csv"
    lines = manifest.read_text().splitlines()
    first = lines[1].split(",")[0]
    target = dest / first
    if segment is not None:
        target.write_bytes(segment)
    else:
        save(target)
    return dest


def test_a_pickled_segment_is_refused_and_never_run(zygote, data60, tmp_path):
    marker = tmp_path / "PWNED"
    payload = Payload(marker)

    def object_npy(path: Path) -> None:
        np.save(path, np.array([payload, 1.0], dtype=object), allow_pickle=True)

    cases = {
        "a raw pickle named .npy": dict(segment=pickle_bytes(marker)),
        "a protocol-0 pickle named .npy": dict(segment=pickle.dumps(payload, protocol=0)),
        "an object-dtype .npy (pickle inside)": dict(save=object_npy),
    }
    row = Row("Pickled segment", "a manifest row pointing at a pickle named .npy (protocols 0 and 2) and at an "
              "object-dtype .npy whose pickle creates a file when loaded",
              "{tries} tries: {refused} refused before training with one line naming the file, {ran} payloads run",
              times_key="tries", command=f"pytest {HERE} -k segment")
    for i, (name, how) in enumerate(cases.items()):
        data = _with_segment(data60, tmp_path / f"data{i}", **how)
        out = tmp_path / f"run{i}"
        child = zygote.run(train_argv(data, out, "--epochs", "1"), tmp_path, tmp_path / f"o{i}",
                           err=tmp_path / f"e{i}")
        row.add("tries")
        assert not marker.exists(), f"{name}: the pickle ran"
        assert child.exit == 2, f"{name}: {child.output}"
        line = one_error_line(child.stderr)
        assert "manifest_train.csv" in line and ".npy" in line, line
        assert "pickle" in line or "not a valid .npy" in line, line
        assert not out.exists(), f"{name}: the run dir was written before the data was validated"
        row.add("refused")
    row.save()


def _hostile_checkpoints(folder: Path, marker: Path) -> dict[str, Path]:
    import torch

    folder.mkdir()
    paths = {"torch.save of a payload": folder / "a.pt", "a raw pickle": folder / "b.pt",
             "a stlar-dl-shaped dict with a payload inside": folder / "c.pt"}
    torch.save(Payload(marker), paths["torch.save of a payload"])
    paths["a raw pickle"].write_bytes(pickle_bytes(marker))
    torch.save({"model_state": {"w": Payload(marker)}, "model_type": 1, "epoch": 1},
               paths["a stlar-dl-shaped dict with a payload inside"])
    return paths


def test_a_best_pt_with_a_pickle_payload_is_never_executed(zygote, data60, tmp_path):
    """Every command of ours that can meet a run dir's best.pt, and the loader STLAR's tools use."""
    from shared.errors import InputError
    from trainer.checkpoint import load_checkpoint, load_model

    marker = tmp_path / "PWNED"
    row = Row("best.pt with a pickle payload", "3 hostile best.pt (torch.save of a payload, a raw pickle, a "
              "stlar-dl-shaped dict with a payload) met by `watch`, `replay`, `stop`, `train-dl` in that run dir "
              "and `load_checkpoint`/`load_model`; plus a scan of our code for unsafe loads",
              "{tries} encounters: {ran} payloads run, {refused} loads refused with one line", times_key="tries",
              command=f"pytest {HERE} -k best_pt")
    for i, (name, hostile) in enumerate(_hostile_checkpoints(tmp_path / "pts", marker).items()):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        write_run(run_dir / "training_log.jsonl", 3)
        shutil.copy(hostile, run_dir / "best.pt")
        for argv in (stlar_cli("replay", run_dir, "--no-window"), stlar_cli("watch", run_dir, "--no-window"),
                     stlar_cli("stop", run_dir), stlar_cli("replay", run_dir, "--png", tmp_path / f"r{i}.png")):
            run(argv)
            row.add("tries")
            assert not marker.exists(), f"{name}: {argv[3:]} ran the payload"
        for load in (load_checkpoint, load_model):
            with pytest.raises(InputError, match=r"checkpoint .*best.pt: (cannot load it|not a stlar-dl checkpoint)"):
                load(run_dir / "best.pt")
            row.add("tries")
            row.add("refused")
            assert not marker.exists(), f"{name}: {load.__name__} ran the payload"
        child = zygote.run(train_argv(data60, run_dir, "--epochs", "1"), tmp_path, tmp_path / f"t{i}")
        row.add("tries")
        assert child.exit == 0, child.output
        assert not marker.exists(), f"{name}: train-dl ran the payload"
        assert (hostile.read_bytes() in [p.read_bytes() for p in (run_dir / "archive").rglob("best.pt")])
    row.save()


UNSAFE = "torch.load without weights_only=True, pickle.load(s), np.load with allow_pickle=True"


# The one pickle we read: what a child this process forked writes to a pipe only the two of them hold
# (replay --png reads its log in the child: viewer.read_ahead). Never bytes from a file or another process.
_OWN_CHILD = "viewer/read_ahead.py:"


def test_our_code_never_loads_pickles():
    """A static scan: nothing in stlar-dl's packages can unpickle untrusted bytes."""
    found = []
    for package in ("shared", "trainer", "viewer", "stlar_dl"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = ast.unparse(node.func)
                kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
                where = f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)[:80]}"
                if name.endswith("torch.load") and kw.get("weights_only") != "True":
                    found.append(where)
                if name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "marshal.loads", "eval", "exec"):
                    if where.startswith(_OWN_CHILD):
                        continue
                    found.append(where)
                if name.endswith(("np.load", "numpy.load")) and kw.get("allow_pickle", "False") != "False":
                    found.append(where)
    assert not found, f"unsafe loads ({UNSAFE}):\n" + "\n".join(found)


# ---- hostile log lines --------------------------------------------------------------------------------
def hostile_lines(run_id: str, seq_from: int) -> list[tuple[str, bytes]]:
    """(what, line) pairs that are not valid records, each ending in a newline; the 100 MB one comes first."""
    def record(**fields):
        return (json.dumps({"run_id": run_id, "time": 5.0, **fields}) + "\n").encode()

    deep = 1000  # under orjson's 1024 limit: only the strict parser's recursion sees it
    return [
        ("a 100 MB line", b'{"type":"epoch","pad":"' + b"x" * BIG_LINE + b'"}\n'),
        ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("a record field nested 1,000 deep", b'{"type":"epoch","run_id":"%s","seq":' % run_id.encode()
         + b"[" * deep + b"]" * deep + b',"time":5.0}\n'),
        ("a stop request nested 1,000 deep", b'{"type":"stop_requested","run_id":"%s","seq":%d,"time":5.0,'
         b'"epoch":2,"stop":{"by":' % (run_id.encode(), seq_from) + b"[" * deep + b"]" * deep + b"}}\n"),
        ("non-UTF-8 bytes", b'{"type":"progress","run_id":"' + run_id.encode() + b'","note":"\xff\xfe\xc3"}\n'),
        ("NUL bytes", b"\x00" * 4096 + b"\n"),
        ("a lone surrogate", record(type="end", seq=seq_from, reason="completed", epochs_run=1, best_epoch=1,
                                    best_val_loss=0.5, message="ok").replace(b'"ok"', b'"\\ud800"')),
        ("UTF-16 text", '{"type":"end"}'.encode("utf-16") + b"\n"),
    ]


def write_hostile_log(path: Path) -> tuple[str, list[str]]:
    """A run of 3 epochs with every hostile line between epochs 1 and 2; (run_id, what was mixed in)."""
    book = Epochs(3)
    good = [{"type": "start", "run_id": "hostile1", "seq": 0, "time": 1.0, **start_fields(3, pid=os.getpid())}]
    good += [{"type": "epoch", "run_id": "hostile1", "seq": e, "time": 1.0 + e, **book.fields(e, 0.6 - e / 10,
                                                                                             0.62 - e / 10)}
             for e in (1, 2, 3)]
    good.append({"type": "end", "run_id": "hostile1", "seq": 4, "time": 9.0, **book.end_fields("completed", 3)})
    lines = hostile_lines("hostile1", 2)
    with open(path, "wb") as fh:
        for i, rec in enumerate(good):
            fh.write((json.dumps(rec) + "\n").encode())
            if i == 1:
                for _, line in lines:
                    fh.write(line)
    return "hostile1", [what for what, _ in lines]


def test_hostile_log_lines_are_skipped_by_the_reader(tmp_path):
    log = tmp_path / "training_log.jsonl"
    write_hostile_log(log)
    tracemalloc.start()
    try:
        records, warnings = read_log(log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r["type"] for r in records] == ["start", "epoch", "epoch", "epoch", "end"]
    assert len(warnings) == 8, warnings
    assert peak < 32 << 20, f"the reader held {peak >> 20} MB for a log with a 100 MB line"


def test_hostile_log_neither_crashes_nor_bloats_the_viewer_commands(tmp_path):
    """`replay --no-window`, `replay --png` and `watch --no-window` on the hostile log, with their peak memory."""
    row = Row("Hostile log lines", "a log with a 100 MB line, JSON nested 100,000 deep, a record field and a stop "
              "request nested 1,000 deep, non-UTF-8 bytes, 4 KB of NUL, a lone surrogate, UTF-16 text, between "
              "valid records; read by `replay --no-window`, `replay --png`, `watch --no-window` (and live: "
              "appended to a followed log), `stop`",
              "{tries} viewer runs: {crashes} crashes, all valid records shown, every bad line skipped with a "
              "warning naming it; peak memory (max RSS) at most {max_extra_mb} MB above the same command on a "
              "clean log ({worst_hostile_mb} MB against {worst_clean_mb} MB)",
              times_key="tries", command=f"pytest {HERE} -k bloats")
    clean = tmp_path / "clean"
    clean.mkdir()
    write_run(clean / "training_log.jsonl", 3, pid=os.getpid())
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    write_hostile_log(hostile / "training_log.jsonl")
    worst = -(1 << 30)
    for argv in (["replay", "{}", "--no-window"], ["replay", "{}", "--png", str(tmp_path / "x.png")],
                 ["watch", "{}", "--no-window"]):
        rss = {}
        for name, folder in (("clean", clean), ("hostile", hostile)):
            done = run(max_rss_wrapper([a.replace("{}", str(folder)) for a in argv]))
            assert done.returncode == 0 and "Traceback" not in done.stderr, (argv, done.stdout[-3000:],
                                                                             done.stderr[-3000:])
            rss[name] = max_rss_kb(done.stderr)
            if name == "hostile" and "--png" not in argv:
                for epoch in (1, 2, 3):
                    assert f"Epoch {epoch}/3" in done.stdout or f"Epoch {epoch}:" in done.stdout, done.stdout
                assert done.stdout.count("skipped") >= 8, done.stdout
        row.add("tries")
        if rss["hostile"] - rss["clean"] >= worst:
            worst = rss["hostile"] - rss["clean"]
            row.counts.update(worst_hostile_mb=rss["hostile"] // 1024, worst_clean_mb=rss["clean"] // 1024)
        assert rss["hostile"] - rss["clean"] < RSS_MARGIN_KB, (argv, rss)
    row.counts["max_extra_mb"] = max(0, -(-worst // 1024))
    # Live: the hostile lines are appended to a log a `watch --no-window` follows, the big line in pieces.
    live = tmp_path / "live"
    live.mkdir()
    book = Epochs(3)
    log = live / "training_log.jsonl"
    with open(log, "wb") as fh:
        fh.write((json.dumps({"type": "start", "run_id": "live1", "seq": 0, "time": 1.0,
                              **start_fields(3, pid=os.getpid())}) + "\n").encode())
    with Spawned(max_rss_wrapper(["watch", live, "--no-window"]), **child_env()) as watch:
        watch.expect("Run live1 started", timeout=TIMEOUT)
        with open(log, "ab") as fh:
            for what, line in hostile_lines("live1", 1):
                for start in range(0, len(line), 8 << 20):  # a growing torn tail, then its newline
                    fh.write(line[start:start + (8 << 20)])
                    fh.flush()
            for e in (1, 2, 3):
                fh.write((json.dumps({"type": "epoch", "run_id": "live1", "seq": e, "time": 1.0 + e,
                                      **book.fields(e, 0.5, 0.55)}) + "\n").encode())
            fh.write((json.dumps({"type": "end", "run_id": "live1", "seq": 4, "time": 9.0,
                                  **book.end_fields("completed", 3)}) + "\n").encode())
        watch.expect("Run ended: completed after 3 epochs", timeout=TIMEOUT)
        assert watch.finish(timeout=TIMEOUT) == 0, watch.output
        assert "Traceback" not in watch.output
        live_rss = max_rss_kb(watch.output)
    row.add("tries")
    assert live_rss - rss["clean"] < RSS_MARGIN_KB, (live_rss, rss)
    # `stlar-dl stop` reads the log too.
    done = run(stlar_cli("stop", hostile))
    assert "Traceback" not in done.stderr, done.stderr
    row.add("tries")
    row.save()


def test_hostile_log_in_the_window(tmp_path):
    """The window's follower and panels on the hostile log: no exception, no big allocation."""
    from viewer.follow import Follower

    write_hostile_log(tmp_path / "training_log.jsonl")
    fig = Figure()
    FigureCanvasAgg(fig)
    out = io.StringIO()  # the window prints every log-panel line here too (the panel shows the last few)
    with Follower(tmp_path) as follower:
        window = RunWindow(fig, tmp_path, follower, out=out)
        tracemalloc.start()
        try:
            window.tick()
            fig.canvas.draw()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert window.history.n_epochs == 3 and window.history.finished
    assert out.getvalue().count("skipped") == 8, out.getvalue()
    assert peak < 48 << 20, f"{peak >> 20} MB"


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero"])
def test_a_log_that_is_not_a_file_does_not_hang_the_viewer(tmp_path, kind):
    row = Row(f"The log is a {kind}", f"training_log.jsonl made a {kind}; the viewers' reader and `replay` on it",
              "the reader returns at once and says so once; `replay` refuses in one line"
              + (" (the viewer's read blocked for good before the fix)" if kind == "fifo" else ""),
              counts={"times": 1}, command=f"pytest {HERE} -k not_a_file")
    """A FIFO (opening it would block until a writer comes), a folder, or a link to /dev/zero as the log."""
    log = tmp_path / "training_log.jsonl"
    if kind == "fifo":
        os.mkfifo(log)
    elif kind == "directory":
        log.mkdir()
    else:
        log.symlink_to("/dev/zero")
    reader = LogReader(log)
    assert reader.poll() == []  # returns at once (a blocking open would hang this test)
    done = run(stlar_cli("replay", tmp_path, "--no-window"))
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and "training_log.jsonl" in line, line
    row.save()


# ---- valid records with hostile values ------------------------------------------------------------------
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", "\x00", "\u202e", "💥" * 50, "x" * 5000, "$\\frac{a}{b}$", "%s %d {}", "\n\r\t"])
number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**63, 2**63 - 1) | st.sampled_from(
    [1e308, -1e308, 5e-324, 0.0, -0.0, 2**63 - 1])
opt_number = st.none() | number
small_int = st.integers(-2**63, 2**63 - 1) | st.sampled_from([0, 1, -1])


@st.composite
def hostile_run(draw):
    """A log's records: valid by the schema, values anything JSON allows."""
    run_id = draw(text)
    seq = iter(range(1000))
    recs = [{"type": "start", "run_id": run_id, "seq": next(seq), "time": draw(number), "schema": draw(small_int),
             "config": draw(st.dictionaries(text, number | text | st.none(), max_size=5)),
             "epochs": draw(small_int), "host": draw(text | st.just(socket.gethostname())),
             "pid": draw(small_int)}]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["epoch", "epoch", "progress", "stop_requested", "other"]))
        base = {"type": kind, "run_id": run_id, "seq": next(seq), "time": draw(number)}
        if kind == "epoch":
            base.update(epoch=draw(small_int), epochs=draw(small_int), train_loss=draw(opt_number),
                        val_loss=draw(opt_number), lr=draw(opt_number), seconds=draw(number), best=draw(st.booleans()),
                        best_epoch=draw(st.none() | small_int), best_val_loss=draw(opt_number),
                        metrics=draw(st.dictionaries(text, opt_number, max_size=3)))
        elif kind == "progress":
            base.update(epoch=draw(small_int), batch=draw(small_int), batches=draw(small_int),
                        train_loss=draw(opt_number), elapsed=draw(number))
        elif kind == "stop_requested":
            base.update(epoch=draw(small_int), stop=draw(st.none() | st.dictionaries(text, text | number, max_size=3)))
        else:
            base.update(extra=draw(text))
        recs.append(base)
    if draw(st.booleans()):
        recs.append({"type": "end", "run_id": run_id, "seq": next(seq), "time": draw(number),
                     "reason": draw(text | st.sampled_from(["completed", "failed"])), "epochs_run": draw(small_int),
                     "best_epoch": draw(st.none() | small_int), "best_val_loss": draw(opt_number),
                     "message": draw(text)})
    return recs


@pytest.mark.filterwarnings("ignore:Glyph")  # a hostile string's control characters have no glyph: fine
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # spreads of losses near 1e308 are inf: fine
def test_valid_records_with_hostile_values_never_crash_the_viewer():
    """Whatever a schema-valid record holds, replay's text, the terminal, the window and the PNG cope."""
    examples = n(12, 300)
    row = Row("Schema-valid records with hostile values", "hypothesis: start, epoch, progress, stop and end "
              "records with any text (control characters, RTL marks, 5,000 characters), 64-bit integers, "
              "floats to 1e308, this host's name with a pid beyond 2^31; through the terminal printer, the "
              "log-panel events, the window (drawn) and the PNG",
              "{examples} runs: {crashes} crashes", times_key="examples", command=f"pytest {HERE} -k hostile_values")
    seen = []

    with tempfile.TemporaryDirectory(prefix="stlar-dl-hostile-") as tmp:  # hypothesis dislikes tmp_path

        @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(recs=hostile_run())
        def check(recs):
            seen.append(1)
            _show_everywhere(recs, Path(tmp) / "hostile.png")

        check()
    row.counts["examples"] = len(seen)
    row.save()


def test_lr_changes_at_absurd_epochs_are_not_labelled_off_the_panel(tmp_path):
    """A found case: lr changes at epochs -2e18 and 0 put an lr label at a pixel position FreeType cannot
    rasterise ("raster overflow"); the window and the PNG must draw anyway."""
    def epoch(seq, number, lr, val_loss=None):
        return {"type": "epoch", "run_id": "", "seq": seq, "time": 0.0, "epoch": number, "epochs": 0,
                "train_loss": None, "val_loss": val_loss, "lr": lr, "seconds": 0.0, "best": False,
                "best_epoch": None, "best_val_loss": None, "metrics": {}}

    recs = [{"type": "start", "run_id": "", "seq": 0, "time": 0.0, "schema": 1, "config": {}, "epochs": 0,
             "host": "h", "pid": 0},
            epoch(1, -30930, 1.5757972136052198e+154), epoch(2, 32002, None),
            epoch(3, -2_305_843_009_213_693_951, 0.0), epoch(4, 0, None, val_loss=-4.78e-175)]
    _show_everywhere(recs, tmp_path / "hostile.png")
    assert (tmp_path / "hostile.png").stat().st_size > 0


def _show_everywhere(recs: list[dict], png: Path) -> None:
    from shared.figure_png import save_png

    lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode() for r in recs]
    parsed = [decode(line) for line in lines]
    out = io.StringIO()
    printer = ConsolePrinter(out, Path("run"))
    printer.feed(parsed)
    if not printer.history.finished:
        printer.report(None)
    history = History()
    events = Events()
    for record in parsed:
        history.add(record)
        events.lines(record, history)
    fig = Figure()
    FigureCanvasAgg(fig)

    class Source:
        on_warning = None

        def due(self):
            return False

        def drain(self):
            return []

        def quiet(self):
            return 0.0

    window = RunWindow(fig, "run", Source(), out=None)
    window.apply(parsed)
    fig.canvas.draw()
    save_png(history, png)


def test_a_data_folder_whose_name_is_not_utf8(zygote, data60, tmp_path):
    """Found here: a Latin-1 `é` in the data folder's name (Python decodes it to a lone surrogate) crashed
    train-dl with a UnicodeEncodeError traceback and left a log whose first record was the end."""
    folder = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/donn\xe9es"))
    shutil.copytree(data60, folder)
    run_dir = tmp_path / "run"
    child = zygote.run(train_argv(folder, run_dir, "--epochs", "2"), tmp_path, tmp_path / "o", err=tmp_path / "e")
    assert child.exit == 0, child.output
    from faults import audit_run_dir

    audit = audit_run_dir(run_dir)
    assert not audit.problems and audit.ended, audit.problems
    assert "donn\ufffdes" in audit.records[0]["config"]["train"]  # the undecodable byte shown as U+FFFD
    params = json.loads((run_dir / "training_params.json").read_text(encoding="utf-8"))
    assert "donn\ufffdes" in params["train"]


def test_a_fifo_named_like_the_log_does_not_hang_the_trainer(zygote, data60, tmp_path):
    """Found here: train-dl read the old log's first line to name its archive and blocked on a FIFO."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.mkfifo(run_dir / "training_log.jsonl")
    child = zygote.run(train_argv(data60, run_dir, "--epochs", "1"), tmp_path, tmp_path / "o", timeout=TIMEOUT)
    assert child.exit == 0, child.output
    assert [p for p in (run_dir / "archive").rglob("training_log.jsonl") if p.is_fifo()]
