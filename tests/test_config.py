"""train-dl options: defaults compatible with STLAR, one-line errors for values out of range."""

from __future__ import annotations

import math

import pytest

from shared.errors import InputError
from trainer.config import OPTION_NAMES, TrainConfig, check_model_type, refuse_cwt, resolve_device


def cfg(**kw) -> TrainConfig:
    return TrainConfig(train="t.csv", val="v.csv", **kw)


def test_defaults_are_stlars():
    c = cfg()
    assert (c.epochs, c.batch_size, c.lr, c.weight_decay, c.out_dir, c.num_workers, c.model_type, c.patience,
            c.min_delta, c.no_plot, c.gui, c.device, c.seed, c.threads, c.fs) == (
        15, 64, 1e-3, 1e-4, "models", 2, 2, 5, 0.0, False, False, "auto", 42, 0, 4800.0)


def test_record_holds_every_option_in_order():
    assert list(cfg().as_record()) == list(OPTION_NAMES) == [
        "train", "val", "epochs", "batch_size", "lr", "weight_decay", "out_dir", "num_workers", "model_type",
        "fs", "patience", "min_delta", "no_plot", "gui", "device", "seed", "threads", "lr_schedule", "lr_factor",
        "min_lr", "max_samples"]


@pytest.mark.parametrize("kw", [dict(lr=0.0), dict(patience=0), dict(weight_decay=0.0), dict(num_workers=0),
                                dict(device="cpu"), dict(device="cuda:1"), dict(min_delta=0.01),
                                dict(fs=30000.0), dict(fs=250), dict(lr_schedule="plateau", lr_factor=0.1, min_lr=0.0)])
def test_accepted(kw):
    cfg(**kw).validate()


@pytest.mark.parametrize("kw, needle", [
    (dict(epochs=0), "--epochs 0: must be an integer >= 1"),
    (dict(epochs=-3), "--epochs -3"),
    (dict(threads=-1), "--threads -1: must be an integer >= 0"),
    (dict(max_samples=0), "--max-samples 0: must be an integer >= 1"),
    (dict(batch_size=0), "--batch-size 0: must be an integer >= 1"),
    (dict(lr=-1.0), "--lr -1.0: the learning rate must be >= 0"),
    (dict(lr=math.nan), "--lr nan"),
    (dict(lr=math.inf), "--lr inf"),
    (dict(weight_decay=-1e-4), "--weight-decay"),
    (dict(patience=-1), "--patience -1"),
    (dict(min_delta=-0.1), "--min-delta"),
    (dict(num_workers=-1), "--num-workers -1"),
    (dict(seed=-5), "--seed -5"),
    (dict(fs=0.0), "--fs 0.0: the sampling rate must be a positive number of Hz"),
    (dict(fs=-4800.0), "--fs -4800.0: the sampling rate must be a positive number of Hz"),
    (dict(fs=math.nan), "--fs nan"),
    (dict(device="tpu"), "--device tpu: unknown device; choose auto, cpu, cuda or cuda:N"),
    (dict(out_dir=" "), "--out-dir: empty path"),
    (dict(lr_schedule="cosine"), "--lr-schedule cosine: unknown schedule; choose none or plateau"),
    (dict(lr_factor=1.0), "--lr-factor 1.0: the factor must be between 0 and 1"),
    (dict(lr_factor=0.0), "--lr-factor 0.0: the factor must be between 0 and 1"),
    (dict(min_lr=-1e-6), "--min-lr -1e-06: the smallest lr must be >= 0"),
])
def test_refused_with_one_line(kw, needle):
    with pytest.raises(InputError) as info:
        cfg(**kw).validate()
    message = str(info.value)
    assert needle in message and "\n" not in message


@pytest.mark.parametrize("model_type", [0, 7, -1, True])
def test_unknown_model_type_lists_the_choices(model_type):
    with pytest.raises(InputError) as info:
        check_model_type(model_type)
    assert str(info.value) == (
        f"--model-type {model_type}: unknown model type; choose one of 1 (Simple 1-D CNN), 2 (ResNet-1D), "
        "3 (InceptionTime), 4 (HFO Transformer), 5 (Spectrogram 2-D CNN)")


@pytest.mark.parametrize("model_type", [1, 2, 3, 4, 5])
def test_stlars_types_1_to_5_are_accepted(model_type):
    check_model_type(model_type)


def test_type_6_is_refused_with_the_reason():
    with pytest.raises(InputError) as info:
        check_model_type(6)
    assert str(info.value) == (
        "--model-type 6: type 6 (2-D CNN on CWT scalograms) is not supported by stlar-dl (STLAR itself cannot "
        "compute its input with current scipy); choose 1-5")


@pytest.mark.parametrize("use_cwt, debug_cwt, flag", [(True, False, "--use-cwt"), (False, True, "--debug-cwt"),
                                                      (True, True, "--use-cwt")])
def test_cwt_options_are_refused(use_cwt, debug_cwt, flag):
    with pytest.raises(InputError, match=f"^{flag}: CWT scalogram input .* is not supported by stlar-dl; "):
        refuse_cwt(use_cwt, debug_cwt)
    refuse_cwt(False, False)


@pytest.mark.parametrize("device, cuda, count, expected", [
    ("auto", False, 0, "cpu"), ("auto", True, 1, "cuda"), ("cpu", True, 1, "cpu"), ("cuda", True, 1, "cuda"),
    ("cuda:0", True, 1, "cuda:0"),
])
def test_resolve_device(device, cuda, count, expected):
    assert resolve_device(device, cuda, count) == expected


@pytest.mark.parametrize("device, count, needle", [
    ("cuda", 0, "CUDA is not available"), ("cuda:0", 0, "CUDA is not available"),
])
def test_cuda_without_cuda_is_refused(device, count, needle):
    with pytest.raises(InputError, match=needle):
        resolve_device(device, False, count)


def test_missing_gpu_index_is_refused():
    with pytest.raises(InputError, match="no such GPU; this machine has 1"):
        resolve_device("cuda:3", True, 1)
