"""Segments: the validated data set, and one segment file found, loaded, checked, z-scored and padded.

A segment is a 1-D numeric `.npy` file. Every problem is an `InputError` whose message names the resolved
file, what is wrong and the fix; `trainer.manifest` prefixes it with the manifest and line. No torch here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.errors import InputError

_NPY_MAGIC = b"\x93NUMPY"
_NPZ_MAGIC = b"PK\x03\x04"  # .npz files are zip archives


@dataclass
class SegmentSet:
    """A validated data set: every segment is 1-D float32, finite, z-scored on its own.

    `segments[i]` has label `labels[i]` and came from `paths[i]`. `warnings` holds one-line notes for the
    user (e.g. skipped unlabelled rows); the caller decides where to show or log them.
    """

    segments: list[np.ndarray]  # 1-D float32, already z-scored
    labels: np.ndarray  # float32 0/1, shape (n,)
    manifest: Path  # absolute path of the manifest the set came from
    warnings: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # resolved segment file of each row, same order
    lines: list[int] = field(default_factory=list)  # the manifest line of each row, same order

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def n_positive(self) -> int:
        """Number of segments labelled 1 (HFO)."""
        return int(self.labels.sum())


def check_min_length(data: SegmentSet, min_samples: int, needed_by: str) -> None:
    """Raise InputError naming the shortest segment if any has fewer than `min_samples` samples.

    `needed_by` says who needs them, e.g. "--model-type 5 (Spectrogram 2-D CNN)".
    """
    short = [i for i, seg in enumerate(data.segments) if len(seg) < min_samples]
    if not short:
        return
    i = min(short, key=lambda j: (len(data.segments[j]), j))
    where = f"{data.manifest.name} line {data.lines[i]}" if data.lines else data.manifest.name
    raise InputError(
        f"{where}: segment {data.paths[i]} has only {len(data.segments[i])} samples (the shortest; {len(short)} "
        f"segment(s) have fewer than {min_samples}); {needed_by} needs at least {min_samples} samples per "
        f"segment; choose another "
        f"--model-type or drop the short segments"
    )


def resolve_segment(written: str, manifest_dir: Path, cwd: Path) -> Path:
    """Find the file a manifest's `segment_path` names: manifest folder first, then `cwd`."""
    if not written:
        raise InputError("segment_path is empty; give the .npy file of this segment")
    raw = Path(written).expanduser()
    cwd = cwd.resolve()
    # Joining an absolute `raw` onto a folder yields `raw` itself, so one loop serves both cases.
    for candidate in dict.fromkeys([manifest_dir / raw, cwd / raw]):
        try:
            if candidate.is_file():
                return candidate
            is_dir = candidate.is_dir()
        except OSError as exc:  # a folder on the way that this user may not enter
            raise InputError(f"segment file {candidate}: cannot reach it ({exc.strerror or exc}); check the "
                             "permissions of its folders") from None
        if is_dir:
            raise InputError(f"segment_path {written} is a folder ({candidate}); it must name a .npy file")
    if "\\" in written and os.sep == "/":
        # A manifest written on Windows: here a backslash is part of the file name, not a separator.
        raise InputError(f"segment file {written} not found; the path has backslashes, which are no folder "
                         f"separators on this system: write it with / (e.g. {written.replace(chr(92), '/')})")
    if raw.is_absolute():
        raise InputError(f"segment file {written} not found")
    if manifest_dir == cwd:
        looked = f"{manifest_dir}{os.sep} (the manifest's folder, also the working directory)"
    else:
        looked = f"{manifest_dir}{os.sep} (the manifest's folder) and {cwd}{os.sep} (the working directory)"
    raise InputError(f"segment file {written} not found (looked in {looked})")


def load_segment(path: Path) -> np.ndarray:
    """Load one segment as a raw (not yet z-scored) finite 1-D float array; raise `InputError` otherwise.

    Pickled data is never loaded (`allow_pickle=False`): a pickle can run code. The message names the
    resolved file, the problem and the fix; `load_manifest` prefixes it with the manifest line.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise InputError(f"segment {path}: cannot read it ({exc.strerror or exc})") from None
    if magic.startswith(_NPZ_MAGIC):
        raise InputError(f"segment {path}: is an .npz archive; save each segment as its own .npy with np.save")
    if magic != _NPY_MAGIC:
        if magic[:1] == b"\x80":  # pickle protocol >= 2 starts with the PROTO opcode
            raise InputError(
                f"segment {path}: is a pickle, refused for safety (loading pickles can run code); "
                "save plain float arrays with np.save"
            )
        raise InputError(f"segment {path}: not a valid .npy file (no NumPy header); save segments with np.save")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            # Object-dtype arrays are stored as pickles inside the .npy.
            raise InputError(
                f"segment {path}: holds pickled Python objects (object dtype), refused for safety; "
                "save plain float arrays with np.save (e.g. np.save(p, np.asarray(x, dtype=np.float32)))"
            ) from None
        raise InputError(f"segment {path}: corrupt or truncated .npy ({_one_line(exc)}); re-export it") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"segment {path}: corrupt or truncated .npy ({_one_line(exc)}); re-export it") from None

    if arr.dtype.kind not in "fiu":  # float, signed and unsigned integers
        raise InputError(
            f"segment {path}: samples have non-numeric dtype {arr.dtype}; save real numbers "
            "(e.g. float32) with np.save"
        )
    if arr.ndim != 1:
        raise InputError(
            f"segment {path}: is {arr.ndim}-D with shape {arr.shape}; each segment must be 1-D "
            "(one channel; e.g. np.save(p, x.ravel()) if it is a single row or column)"
        )
    if arr.size == 0:
        raise InputError(f"segment {path}: is empty (0 samples); drop its row from the manifest")
    if arr.dtype.kind == "f":
        # Finite in its own dtype is not enough: a longdouble 1e400 becomes inf in the float64 the segment is
        # scaled in (and NaN after scaling), which would read as "diverged" at epoch 1.
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(arr) if arr.dtype.itemsize <= 8 else ~np.isfinite(arr.astype(np.float64))
        n_bad = int(bad.sum())
        if n_bad:
            first = int(np.argmax(bad))
            kinds = "NaN/inf" if arr.dtype.itemsize <= 8 else "NaN/inf, or beyond the float64 range"
            raise InputError(
                f"segment {path}: {n_bad} non-finite sample(s) ({kinds}), first at index {first} "
                f"(value {arr[first]}); clean the segment or drop its row"
            )
    return arr


def zscore(segment: np.ndarray) -> np.ndarray:
    """Return `segment` scaled to mean 0, std 1 as float32; a constant segment becomes all zeros.

    Works in float64 after dividing by the largest magnitude, so huge values cannot overflow and the
    float32 result is accurate.
    """
    x = np.asarray(segment, dtype=np.float64)
    # Exact test: a constant float32 segment's float64 mean can differ from its value by rounding, and
    # dividing that rounding noise by its own tiny std would turn a flat line into +-1 noise.
    if x.size == 0 or x.max() == x.min():
        return np.zeros(x.shape, dtype=np.float32)
    x = x / np.abs(x).max()
    x = x - x.mean()
    return (x / x.std()).astype(np.float32)


def pad_batch(segments: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """Stack 1-D segments into a `(batch, max_len)` float32 array, zero-padded on the right.

    Pad after z-scoring: zeros then equal the segment's mean, so padding adds no offset. `out`: a zeroed
    `(batch, max_len)` float32 array to fill instead of a new one (e.g. a view of a torch tensor).
    """
    if not segments:
        return np.zeros((0, 0), dtype=np.float32) if out is None else out
    if out is None:
        out = np.zeros((len(segments), max(len(s) for s in segments)), dtype=np.float32)
    for row, seg in zip(out, segments):
        row[: len(seg)] = seg
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
