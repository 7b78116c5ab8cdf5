"""The shared rule set, as tables of curves with the findings they must (and must not) produce."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.curve_metrics import INSTABILITY_STD, improvements, rolling_spread
from shared.diagnostics import Check, Settings, diagnose
from shared.early_stopping import EarlyStopping, epochs_without_improvement
from shared.number_format import fmt_num

NAN = math.nan
DECLINE = [0.70, 0.60, 0.50, 0.40, 0.30]


def fired(train, val, settings=Settings()):
    return {f.check for f in diagnose(train, val, settings)}


@pytest.mark.parametrize(
    "train, val, expected",
    [
        # A steady decline is convergence: nothing fires.
        (DECLINE, [v + 0.02 for v in DECLINE], set()),
        ([0.9, 0.5, 0.3, 0.2, 0.15, 0.12, 0.11], [0.95, 0.55, 0.35, 0.26, 0.2, 0.17, 0.15], set()),
        # Overfitting: the latest gap above 0.05 (not an earlier one).
        ([0.5, 0.4, 0.3], [0.5, 0.45, 0.36], {Check.OVERFITTING}),
        ([0.5, 0.4, 0.3], [0.5, 0.45, 0.35], set()),  # a gap of exactly 0.05 is not above it
        ([0.5, 0.2, 0.2], [0.7, 0.21, 0.21], set()),
        # Plateau: no new best val loss, by more than 0.001, in the last 5 epochs.
        ([0.5] * 6, [0.5, 0.4995, 0.4993, 0.4992, 0.4991, 0.4991], {Check.PLATEAU}),
        ([0.5] * 6, [0.5, 0.4995, 0.4992, 0.4980, 0.4989, 0.4985], set()),  # one real step of 0.0012
        ([0.5] * 6, [0.5, 0.4995, 0.4992, 0.4990, 0.4989, 0.4985], set()),  # 0.4989 beats 0.5 by 0.0011
        ([0.5] * 5, [0.5] * 5, set()),  # only four epochs since the best
        # A slow creep of 0.0006 an epoch makes a new best every other epoch: not a plateau.
        ([0.5] * 12, [0.5 - 0.0006 * i for i in range(12)], set()),
        # Noise above an old best is a plateau even though single steps improve by more than 0.001
        # (the old each-step rule missed this and printed "still improving" beside an early stop).
        ([0.3] * 11, [0.5, 0.3348, 0.4, 0.35, 0.36, 0.34, 0.35, 0.345, 0.34, 0.338, 0.336],
         {Check.PLATEAU, Check.EARLY_STOP}),
        # Instability: swings around the local trend.
        ([0.5, 0.8, 0.4, 0.9, 0.3], [0.55, 0.55, 0.5, 0.45, 0.32], {Check.INSTABILITY}),
        ([0.5, 0.5, 0.5, 0.5, 0.5], [0.6, 0.9, 0.5, 0.95, 0.45], {Check.INSTABILITY}),
        ([0.9, 0.7, 0.5, 0.3, 0.1], [0.9, 0.7, 0.5, 0.3, 0.1], set()),  # steep but steady
        # Divergence: a null (non-finite) loss anywhere.
        ([0.5, NAN], [0.5, 0.6], {Check.DIVERGENCE}),
        ([0.5, 0.4], [0.5, NAN], {Check.DIVERGENCE}),
        # Early stop: no new best for patience (5) epochs.
        # (no new best for 5 epochs is also a plateau: early stopping never fires without it)
        ([0.3] * 7, [0.5, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45], {Check.EARLY_STOP, Check.OVERFITTING, Check.PLATEAU}),
        ([0.3] * 7, [0.5, 0.3, 0.36, 0.31, 0.33, 0.32, 0.31], {Check.EARLY_STOP, Check.PLATEAU}),
        ([0.4] * 6, [0.5, 0.4, 0.41, 0.42, 0.43, 0.44], set()),  # only 4 epochs without a new best
        ([], [], set()),
        ([0.5], [0.5], set()),
    ],
)
def test_findings_table(train, val, expected):
    assert fired(train, val) == expected


def test_steady_decline_has_zero_spread_but_plain_std_would_not():
    spread = rolling_spread(DECLINE)
    assert np.isnan(spread[:4]).all() and spread[4] == pytest.approx(0.0, abs=1e-12)
    assert np.std(DECLINE) > INSTABILITY_STD


def test_rolling_spread_nan_in_window():
    spread = rolling_spread([0.5, 0.4, NAN, 0.3, 0.2, 0.1, 0.05, 0.01])
    assert np.isnan(spread[:7]).all() and np.isfinite(spread[7])


def test_improvements_are_previous_minus_current():
    assert np.allclose(improvements([0.5, 0.4, 0.45])[1:], [0.1, -0.05])


@pytest.mark.parametrize(
    "losses, patience, min_delta, stop_epoch, best_epoch",
    [
        ([0.5, 0.4, 0.3, 0.2], 2, 0.0, None, 4),
        ([0.5, 0.4, 0.4, 0.4], 2, 0.0, 4, 2),  # equal is not better
        ([0.5, 0.4, 0.39, 0.38, 0.37], 2, 0.05, 4, 2),  # small gains below min_delta do not count
        ([0.5, NAN, 0.6, 0.7], 3, 0.0, 4, 1),
        ([0.5, 0.6, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], 5, 0.0, 8, 3),
    ],
)
def test_early_stopping_table(losses, patience, min_delta, stop_epoch, best_epoch):
    policy = EarlyStopping(patience, min_delta)
    stopped = None
    for epoch, loss in enumerate(losses, start=1):
        _, stop = policy.update(epoch, loss)
        if stop and stopped is None:
            stopped = epoch
    assert stopped == stop_epoch and policy.best_epoch == best_epoch


def test_epochs_without_improvement():
    assert epochs_without_improvement([0.5, 0.4, 0.45, 0.41]) == 2
    assert epochs_without_improvement([]) == 0


def test_advice_carries_the_runs_numbers():
    s = Settings(lr=1e-3, weight_decay=1e-4, batch_size=64)
    by_check = {f.check: f for f in diagnose([0.5, 0.8, 0.4, 0.9, 0.3, 0.3],
                                             [0.6, 0.6, 0.6, 0.6, 0.6, 0.6], s)}
    assert "1e-4 → 1e-3" in by_check[Check.OVERFITTING].advice
    assert "64 → 32" in by_check[Check.INSTABILITY].advice and "1e-3 → 5e-4" in by_check[Check.INSTABILITY].advice
    assert "1e-3 → 2e-4" in by_check[Check.PLATEAU].advice
    div = diagnose([0.5, NAN], [0.5, 0.5], Settings(lr=0.01))[0]
    assert div.check is Check.DIVERGENCE and "0.01 → 1e-3" in div.advice and "epoch 2" in div.detail


def test_settings_from_config_ignores_odd_values():
    s = Settings.from_config({"lr": 0.01, "batch_size": 16, "weight_decay": "x", "patience": True})
    assert (s.lr, s.batch_size, s.weight_decay, s.patience) == (0.01, 16, 1e-4, 5)


@pytest.mark.parametrize("x, text", [(1e-3, "1e-3"), (2e-4, "2e-4"), (5e-4, "5e-4"), (0.05, "0.05"),
                                     (64, "64"), (0, "0"), (1.5e-5, "1.5e-5"), (0.01, "0.01"), (1e6, "1e6"), (2500, "2500")])
def test_fmt_num(x, text):
    assert fmt_num(x) == text


def test_rolling_spread_of_rows_is_each_row_alone():
    rng = np.random.default_rng(3)
    a, b = rng.random(40), rng.random(40)
    b[11] = NAN
    both = rolling_spread(np.vstack([a, b]))
    np.testing.assert_array_equal(both[0], rolling_spread(a))
    np.testing.assert_array_equal(both[1], rolling_spread(b))
    # the residuals of each window around its own least-squares line, computed the plain way
    t = np.arange(5) - 2.0
    window = a[10:15]
    fit = np.polyval(np.polyfit(t, window, 1), t)
    assert both[0][14] == pytest.approx(np.sqrt(np.mean((window - fit) ** 2)), abs=1e-12)


def test_plateau_extend_is_update_epoch_by_epoch():
    from shared.plateau import Plateau

    rng = np.random.default_rng(5)
    for trial in range(30):
        values = list(np.round(0.5 - np.cumsum(rng.normal(0.0005, 0.002, 40)), 4))
        for i in rng.choice(40, 3):
            values[i] = NAN
        epochs = list(range(1, 41))
        one, bulk = Plateau(), Plateau()
        fired = [one.update(e, v) for e, v in zip(epochs, values)][-1]
        cut = int(rng.integers(0, 40))
        bulk.extend(epochs[:cut], values[:cut])
        assert bulk.extend(epochs[cut:], values[cut:]) == fired
        assert vars(bulk) == vars(one), trial


@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(NAN)), max_size=9))
def test_the_finding_judges_the_spread_the_panel_plots_to_the_bit(values):
    from shared.curve_metrics import window_spread

    plotted = rolling_spread(values)
    judged = window_spread(values)
    if len(values) < 5 or math.isnan(plotted[-1]):
        assert math.isnan(judged)
    else:
        assert judged == plotted[-1]
