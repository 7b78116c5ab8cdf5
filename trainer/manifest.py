"""STLAR manifests: read a manifest CSV, check every row and load every segment it names, up front.

A manifest is a CSV whose header names at least `segment_path` and `label`; other columns (`band_label`,
`duration_ms`, `state`, ...) are allowed and ignored. Each data row points at one segment: a 1-D numeric
`.npy` file, typically 70-600 samples at 4800 Hz (`trainer.segments` finds, loads and checks it).

`load_manifest` reads every row and every segment before returning, so a training run never starts on
bad data and nothing needs to be written to a run dir until the data is known to be good. Every problem
is an `InputError` whose one-line message names the manifest, the CSV line (header = line 1, first data
row = line 2, as a spreadsheet or editor shows it), the field and the fix.

No torch here: validation runs in a light process.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from shared.errors import InputError
from trainer.segments import SegmentSet, load_segment, resolve_segment, zscore

REQUIRED_COLUMNS = ("segment_path", "label")
_MAX_LINES_LISTED = 5  # how many further bad lines an error names after the first one


def load_manifest(path: str | Path, cwd: Path | None = None, max_samples: int | None = None) -> SegmentSet:
    """Load and validate a manifest and all its segments; raise `InputError` if anything is wrong.

    Contract:
    - A relative `segment_path` is looked up in the manifest's folder first, then in `cwd` (default: the
      process's working directory), because the original STLAR tool wrote cwd-relative paths.
    - Rows whose `label` is empty are skipped (the upstream tool leaves unscored detector output
      unlabelled); their segment files are not opened. One warning in the result counts them.
    - Labels are 0 or 1 (also written `"1.0"`, `" 0 "`, ...) or False/True in any case; anything else
      is an error.
    - Row problems are collected over the whole manifest; the error describes the first and lists the
      line numbers of the others, so one run of the validator shows the extent of the damage.
    - A set with one class only is valid (a validation set may be) but gets a warning.
    - A segment longer than `max_samples` (train-dl --max-samples) is a bad row: batches are padded to
      their longest segment, so one huge file would exhaust memory at the first batch.
    """
    manifest = Path(path).expanduser()
    cwd = Path.cwd() if cwd is None else Path(cwd)
    text = _read_manifest_text(manifest)
    manifest = manifest.resolve()
    name = manifest.name

    reader = csv.reader(io.StringIO(text, newline=""))
    header, header_line = _read_header(reader, manifest)
    path_col, label_col = (header.index(c) for c in REQUIRED_COLUMNS)

    segments: list[np.ndarray] = []
    labels: list[float] = []
    paths: list[Path] = []
    line_numbers: list[int] = []
    unlabelled: list[int] = []
    problems: list[tuple[int, str]] = []  # (line, message) of each bad row
    n_rows = 0
    last_line = header_line
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(
                f"{name} line {reader.line_num}: not valid CSV ({exc}); check quoting around this line"
            ) from None
        # A record may span lines (quoted newline): report the line it starts on.
        line, last_line = last_line + 1, reader.line_num
        if not row or all(not f.strip() for f in row):
            continue  # blank line: editors leave them at the end, they carry no data
        n_rows += 1
        if len(row) != len(header):
            problems.append(
                (
                    line,
                    f"has {len(row)} fields but the header has {len(header)}; "
                    'quote values that contain commas ("a,b.npy")',
                )
            )
            continue
        raw_label = row[label_col].strip()
        if not raw_label:
            unlabelled.append(line)
            continue
        label = _parse_label(raw_label)
        if label is None:
            problems.append((line, f"label {raw_label!r} is not valid; labels must be 0 (not HFO) or 1 (HFO), "
                                   "or False/True"))
            continue
        try:
            seg_path = resolve_segment(row[path_col].strip(), manifest.parent, cwd)
            segment = load_segment(seg_path)
        except InputError as exc:
            problems.append((line, str(exc)))
            continue
        if max_samples is not None and segment.size > max_samples:
            problems.append((line, f"segment {seg_path} has {segment.size:,} samples, more than --max-samples "
                                   f"{max_samples:,} (every batch is padded to its longest segment); drop the row, "
                                   "cut the segment, or raise --max-samples"))
            continue
        segments.append(zscore(segment))
        labels.append(label)
        paths.append(seg_path)
        line_numbers.append(line)

    if problems:
        line, message = problems[0]
        more = ""
        if len(problems) > 1:
            others = ", ".join(str(ln) for ln, _ in problems[1:1 + _MAX_LINES_LISTED])
            etc = ", ..." if len(problems) > 1 + _MAX_LINES_LISTED else ""
            more = f" [{len(problems) - 1} more bad row(s), at lines {others}{etc}]"
        raise InputError(f"{name} line {line}: {message}{more}")
    if n_rows == 0:
        raise InputError(f"{name}: no data rows, only the header; add one row per segment (segment_path,label)")
    if not segments:
        raise InputError(
            f"{name}: all {n_rows} rows have an empty label, nothing to train on; "
            "label rows 0 (not HFO) or 1 (HFO)"
        )

    warnings = []
    if unlabelled:
        warnings.append(
            f"{name}: {len(unlabelled)} row(s) with an empty label skipped "
            f"(lines {_line_list(unlabelled)}); label them 0 or 1 to use them"
        )
    n_positive = int(sum(labels))
    if n_positive in (0, len(labels)):
        only = "1 (HFO)" if n_positive else "0 (not HFO)"
        warnings.append(
            f"{name}: all {len(labels)} labelled rows are {only}; a classifier needs examples of both classes"
        )
    return SegmentSet(
        segments=segments,
        labels=np.asarray(labels, dtype=np.float32),
        manifest=manifest,
        warnings=warnings,
        paths=paths,
        lines=line_numbers,
    )


def _read_manifest_text(manifest: Path) -> str:
    """Return the manifest's text, refusing folders, missing, unreadable and binary files."""
    manifest = manifest.absolute()  # messages name the full path: "manifest.csv not found" says too little
    try:
        exists, is_dir = manifest.exists(), manifest.is_dir()
    except OSError as exc:  # a folder on the way that this user may not enter (exists() raises, not False)
        raise InputError(f"manifest {manifest}: cannot reach it ({exc.strerror or exc}); check the permissions "
                         "of its folders") from None
    if not exists:
        raise InputError(f"manifest {manifest}: file not found; check the path")
    if is_dir:
        raise InputError(f"manifest {manifest}: is a folder; pass the manifest CSV file inside it")
    try:
        data = manifest.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"manifest {manifest}: cannot read it ({reason}); check its permissions") from None
    if b"\x00" in data:
        raise InputError(
            f"manifest {manifest}: binary file (contains NUL bytes), not a CSV; "
            "pass the manifest CSV, not a segment or archive"
        )
    try:
        # utf-8-sig drops the byte-order mark that Excel puts at the start of "CSV UTF-8" files.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        decoded = exc.object  # the bytes after any byte-order mark: exc.start indexes these
        line = decoded.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"manifest {manifest}: not UTF-8 text (byte 0x{decoded[exc.start]:02x} on line {line}); "
            "save the CSV as UTF-8"
        ) from None


def _read_header(reader, manifest: Path) -> tuple[list[str], int]:
    """Return the stripped header fields and the line they end on; check the required columns."""
    name = manifest.name
    try:
        for header in reader:
            if header and any(f.strip() for f in header):
                break
        else:
            raise InputError(f"{name}: file is empty; the first line must be the header segment_path,label")
    except csv.Error as exc:
        raise InputError(f"{name} line {reader.line_num}: not valid CSV ({exc}); check the header line") from None
    header = [f.strip() for f in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        found = ", ".join(repr(f) for f in header)
        raise InputError(
            f"{name} line {reader.line_num}: missing column(s) {', '.join(missing)} (found: {found}); "
            "the first line must be a header naming at least segment_path and label"
        )
    for c in REQUIRED_COLUMNS:
        if header.count(c) > 1:
            raise InputError(f"{name} line {reader.line_num}: column {c} appears {header.count(c)} times; keep one")
    return header, reader.line_num


def _parse_label(raw: str) -> float | None:
    """Return 0.0 or 1.0 for the accepted spellings ("1", "0", "1.0", "0.0", ... and "True"/"False" in any
    case, as pandas writes a boolean column), else None."""
    boolean = {"true": 1.0, "false": 0.0}.get(raw.lower())
    if boolean is not None:
        return boolean
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value in (0.0, 1.0) else None


def _line_list(lines: list[int]) -> str:
    shown = ", ".join(str(ln) for ln in lines[:_MAX_LINES_LISTED])
    return shown + (", ..." if len(lines) > _MAX_LINES_LISTED else "")
