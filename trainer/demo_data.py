"""A synthetic HFO data set in the STLAR manifest format, for `stlar-dl demo` and for tests.

Positives (label 1) are ripples (80-250 Hz) and fast ripples (250-500 Hz): bursts of at least four
cycles under a Hann envelope, on a 1/f background. Negatives (label 0) are the background alone and the
classic false alarms of HFO detectors: sharp spikes and steps (broadband, so a band-pass filter turns
them into "false ripples") and slow waves. Segments last 15-120 ms at 4800 Hz (72-576 samples), with
the same duration distribution in both classes so length alone says nothing about the label. Burst
amplitude spans weak to clear (signal-to-noise ratio drawn per segment), so a small CNN learns the task
well above chance without reaching 100%.

numpy only: no torch import, so the demo data can be written before (or without) the training stack.
"""

from __future__ import annotations

import csv
import io
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared import atomic
from shared.errors import InputError

FS_HZ = 4800  # sampling rate of the demo segments
MIN_DURATION_MS, MAX_DURATION_MS = 15.0, 120.0
MIN_N = 10  # smallest data set for which both splits get both classes
SNR_MIN, SNR_MAX = 1.0, 8.0  # HFO peak amplitude over the background's RMS above 80 Hz (log-uniform)
_MANIFEST_COLUMNS = ["segment_path", "label", "band_label", "duration_ms"]
_BACKGROUND_SAMPLES = 4096  # a segment is cut from a longer 1/f trace, so it carries slow drift too
_MIN_BURST_SAMPLES = int(np.ceil(4 * FS_HZ / 500.0))  # four cycles of the fastest HFO
_NEGATIVE_KINDS = ("background", "spike", "step", "slow_wave")


@dataclass(frozen=True)
class DemoData:
    """Where `write_demo_data` put the data set, and what is in it."""

    out_dir: Path
    train_manifest: Path
    val_manifest: Path
    segments_dir: Path
    n_train: int
    n_val: int
    n_train_positive: int
    n_val_positive: int

    @property
    def n(self) -> int:
        return self.n_train + self.n_val


def write_demo_data(out_dir: Path, n: int = 2000, seed: int = 0, val_fraction: float = 0.2) -> DemoData:
    """Write `n` synthetic segments and a train/val manifest pair under `out_dir`; return what was written.

    Layout: `out_dir/segments/seg_00000.npy ...`, `out_dir/manifest_train.csv`, `out_dir/manifest_val.csv`
    (columns `segment_path,label,band_label,duration_ms`; `segment_path` relative to `out_dir`).

    Contract:
    - Deterministic: the same `n`, `seed` and `val_fraction` give byte-identical files.
    - Half the segments (rounded down) are positive. The split is stratified and each split holds at
      least one segment of each class.
    - Manifests are written last, each atomically (temporary file + rename), after any old ones are
      removed first: a crash mid-way leaves no manifest that points at a half-written data set.
    - Bad arguments or an unusable `out_dir` raise `InputError` with a one-line message (naming the
      `stlar-dl demo-data` options `--n` and `--seed`).
    """
    out_dir = Path(out_dir).expanduser()
    if not _is_int(n) or n < MIN_N:
        raise InputError(
            f"--n {n}: too few segments for a demo data set; ask for at least {MIN_N} so both the training "
            "and the validation split get both classes"
        )
    if not 0.0 < val_fraction < 1.0:
        raise InputError(f"demo data: val_fraction {val_fraction} must be between 0 and 1 (e.g. 0.2)")
    if not _is_int(seed) or seed < 0:
        raise InputError(f"--seed {seed!r}: the seed of the demo data must be a non-negative integer (e.g. 0)")

    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    labels[rng.permutation(n)[: n // 2]] = 1
    is_val = _stratified_val_mask(labels, val_fraction, rng)

    segments_dir = out_dir / "segments"
    train_manifest = out_dir / "manifest_train.csv"
    val_manifest = out_dir / "manifest_val.csv"
    width = max(5, len(str(n - 1)))
    rows: list[list[str]] = []
    try:
        segments_dir.mkdir(parents=True, exist_ok=True)
        for old in (train_manifest, val_manifest):
            old.unlink(missing_ok=True)
        for i in range(n):
            x, band, n_samples = _make_segment(int(labels[i]), rng)
            rel = f"segments/seg_{i:0{width}d}.npy"
            np.save(out_dir / rel, x)
            duration_ms = 1000.0 * n_samples / FS_HZ
            rows.append([rel, str(labels[i]), band, f"{duration_ms:.2f}"])
        _write_manifest(val_manifest, [r for r, v in zip(rows, is_val) if v])
        _write_manifest(train_manifest, [r for r, v in zip(rows, is_val) if not v])
    except OSError as exc:
        where = exc.filename or out_dir
        raise InputError(
            f"demo data folder {out_dir}: cannot write {where} ({exc.strerror or exc}); "
            "choose a writable folder (not an existing file)"
        ) from None

    return DemoData(
        out_dir=out_dir,
        train_manifest=train_manifest,
        val_manifest=val_manifest,
        segments_dir=segments_dir,
        n_train=int((~is_val).sum()),
        n_val=int(is_val.sum()),
        n_train_positive=int(labels[~is_val].sum()),
        n_val_positive=int(labels[is_val].sum()),
    )


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _stratified_val_mask(labels: np.ndarray, val_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Pick about `val_fraction` of each class for validation, at least one and leaving at least one."""
    is_val = np.zeros(len(labels), dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        k = min(max(1, round(val_fraction * len(idx))), len(idx) - 1)
        is_val[rng.choice(idx, size=k, replace=False)] = True
    return is_val


def _write_manifest(path: Path, rows: list[list[str]]) -> None:
    """Write a manifest atomically: readers see no file or the complete file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_MANIFEST_COLUMNS)
    writer.writerows(rows)
    atomic.write_bytes(path, buf.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# Signal synthesis. Amplitudes are relative to the background's standard deviation (1 before scaling).


def _make_segment(label: int, rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    """Return one raw segment (float32, arbitrary scale and offset), its band label and its length."""
    n = int(round(rng.uniform(MIN_DURATION_MS, MAX_DURATION_MS) * FS_HZ / 1000))
    t = np.arange(n) / FS_HZ
    x = _background(n, rng)
    if label == 1:
        burst, band = _hfo_burst(t, rng)
        x = x + _high_band_rms(x) * burst
    else:
        band = _NEGATIVE_KINDS[rng.integers(len(_NEGATIVE_KINDS))]
        if band == "spike":
            x = x + _spike(t, rng)
        elif band == "step":
            x = x + _step(t, rng)
        elif band == "slow_wave":
            x = x + _slow_wave(t, rng)
    # Recording gain and offset vary between channels; the loader's z-scoring must undo them.
    gain = np.exp(rng.uniform(np.log(5.0), np.log(200.0)))  # ~ microvolts
    offset = rng.uniform(-50.0, 50.0)
    return (gain * x + offset).astype(np.float32), band, n


def _background(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f^alpha noise (alpha 1-2) plus a white amplifier floor, cut from a longer trace; std 1."""
    alpha = rng.uniform(1.0, 2.0)
    spectrum = np.fft.rfft(rng.standard_normal(_BACKGROUND_SAMPLES))
    f = np.fft.rfftfreq(_BACKGROUND_SAMPLES)
    f[0] = f[1]  # no division by zero at DC
    trace = np.fft.irfft(spectrum * f ** (-alpha / 2), n=_BACKGROUND_SAMPLES)
    start = rng.integers(_BACKGROUND_SAMPLES - n + 1)
    x = trace[start : start + n]
    x = (x - x.mean()) / (x.std() + 1e-12)
    x = x + rng.uniform(0.02, 0.1) * rng.standard_normal(n)
    return x / x.std()


def _high_band_rms(x: np.ndarray) -> float:
    """RMS of `x` above 80 Hz: the noise an HFO has to stand out from."""
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / FS_HZ) < 80.0] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spectrum, n=len(x)) ** 2)))


def _hfo_burst(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A Hann-windowed oscillation of at least 4 cycles: a ripple if one fits, else a fast ripple."""
    n = len(t)
    # Half to all of the segment, but never too short for four cycles at 500 Hz (39 samples).
    burst_len = min(n, max(int(rng.uniform(0.5, 1.0) * n), _MIN_BURST_SAMPLES))
    burst_s = burst_len / FS_HZ
    min_f = 4.0 / burst_s  # at least four cycles under the envelope
    if min_f <= 250.0 and rng.random() < 0.6:
        band, f0 = "ripple", rng.uniform(max(80.0, min_f), 250.0)
    else:
        band, f0 = "fast_ripple", rng.uniform(max(250.0, min_f), 500.0)
    start = rng.integers(n - burst_len + 1)
    envelope = np.zeros(n)
    envelope[start : start + burst_len] = np.hanning(burst_len)
    # Log-uniform SNR from barely visible to obvious; the weak end keeps the task from being trivial.
    snr = np.exp(rng.uniform(np.log(SNR_MIN), np.log(SNR_MAX)))
    return snr * envelope * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi)), band


def _spike(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Interictal-spike-like transient: a sharp Gaussian (1-8 ms wide), sometimes biphasic."""
    centre = rng.uniform(t[0], t[-1])
    width = rng.uniform(0.001, 0.008)
    shape = np.exp(-0.5 * ((t - centre) / width) ** 2)
    if rng.random() < 0.5:
        shape = -((t - centre) / width) * shape * 1.65  # derivative of a Gaussian: biphasic, peak ~1
    return rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 6.0) * shape


def _step(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Electrode-pop-like step with a 0.2-2 ms rise."""
    centre = rng.uniform(t[0], t[-1])
    rise = rng.uniform(0.0002, 0.002)
    # tanh form of the logistic: no overflow warning far from the centre.
    return rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 5.0) * 0.5 * (1.0 + np.tanh((t - centre) / (2 * rise)))


def _slow_wave(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 2-40 Hz oscillation: at these durations, a fraction of a cycle up to a few cycles."""
    f0 = rng.uniform(2.0, 40.0)
    return rng.uniform(1.0, 4.0) * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
