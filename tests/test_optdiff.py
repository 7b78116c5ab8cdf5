"""Which options differ between runs, and the labels that name runs by them."""

from __future__ import annotations

import pytest

from viewer.optdiff import MISSING, differing, fmt_number, label, option_value

BASE = {"train": "data/manifest_train.csv", "val": "data/manifest_val.csv", "epochs": 30, "batch_size": 64,
        "lr": 0.001, "weight_decay": 0.0001, "out_dir": "models", "num_workers": 2, "model_type": 2,
        "patience": 5, "min_delta": 0.0, "no_plot": False, "gui": False, "device": "auto", "seed": 42}


def with_(**changes):
    return {**BASE, **changes}


@pytest.mark.parametrize("configs, expected", [
    ([BASE], []),  # one run: nothing to tell apart
    ([BASE, dict(BASE)], []),  # the same options
    ([BASE, with_(lr=2e-4)], ["lr"]),
    ([BASE, with_(lr=2e-4, weight_decay=1e-3), with_(batch_size=32)], ["lr", "weight_decay", "batch_size"]),
    ([BASE, with_(lr=1)], ["lr"]),
    ([with_(lr=1), with_(lr=1.0)], []),  # 1 and 1.0 are the same learning rate
    # Where the files went, how it was watched, how many loader workers: never what tells runs apart.
    ([BASE, with_(out_dir="other", gui=True, no_plot=True, num_workers=0, threads=1)], []),
    ([BASE, with_(seed=7, model_type=1)], ["model_type", "seed"]),
    ([BASE, with_(lr_schedule="plateau", fs=2000.0)], ["lr_schedule", "fs"]),  # the optimiser's before the model's
    ([BASE, {k: v for k, v in BASE.items() if k != "patience"}], ["patience"]),  # absent in one config
    ([with_(extra_option="a"), with_(extra_option="b")], ["extra_option"]),  # a newer trainer's option: last
    ([with_(extra_option="a", lr=0.1), with_(extra_option="b")], ["lr", "extra_option"]),
])
def test_differing_lists_only_options_whose_values_differ(configs, expected):
    assert differing(configs) == expected


@pytest.mark.parametrize("value, text", [
    (0.001, "1e-3"), (2e-4, "2e-4"), (2.5e-4, "2.5e-4"), (1e-5, "1e-5"), (0.5, "0.5"), (0.1, "0.1"),
    (64, "64"), (64.0, "64"), (0, "0"), (0.0, "0"), (1.5, "1.5"), (3e-4, "3e-4"),
])
def test_numbers_are_written_short(value, text):
    assert fmt_number(value) == text


def test_label_names_a_run_by_its_differing_options():
    a, b = BASE, with_(lr=2e-4, weight_decay=1e-3)
    names = differing([a, b])
    assert label(b, names, "run-b") == "lr=2e-4, wd=1e-3"
    assert label(a, names, "run-a") == "lr=1e-3, wd=1e-4"


def test_a_schedule_has_a_short_name():
    assert label(with_(lr_schedule="plateau"), ["lr_schedule"], "x") == "schedule=plateau"


def test_label_falls_back_to_the_run_id_when_nothing_differs():
    assert label(BASE, [], "8f3a1c") == "8f3a1c"


def test_values_in_cells():
    assert option_value({"lr": 0.01}, "patience") == MISSING
    assert option_value(with_(train="/data/set2/manifest_train.csv"), "train") == "manifest_train.csv"
    assert option_value(with_(gui=True), "gui") == "yes"
    assert option_value(with_(device="cuda:1"), "device") == "cuda:1"
