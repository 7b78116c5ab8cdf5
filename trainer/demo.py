"""`stlar-dl demo`: synthetic HFO data plus a short headless training run, the README's main job.

The settings are chosen to finish in well under a minute on two CPU cores with visibly falling losses
(measured; see DEMO_* below), and to show the whole console: epoch lines, new bests, the end block and
the diagnostic report.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainer.config import TrainConfig
from trainer.console import Printer
from trainer.train_dl import RunOutcome, train_dl

DEFAULT_DEMO_DIR = "stlar-dl-demo"
DEMO_N = 1500  # segments (1200 train / 300 val); written in about 1 s
DEMO_SEED = 0  # the data set's seed (the training seed is train-dl's default)
DEMO_EPOCHS = 8  # simple CNN, batch 64: about 2-4 s per epoch on two cores
DEMO_MODEL_TYPE = 1  # the simple 1-D CNN: the ResNet needs ~5x longer per epoch for this small a task
DEMO_NUM_WORKERS = 0  # in-memory data: worker processes only compete with the model for two cores


def demo_config(demo_dir: str, gui: bool = False) -> TrainConfig:
    data = os.path.join(demo_dir, "data")
    return TrainConfig(
        train=os.path.join(data, "manifest_train.csv"),
        val=os.path.join(data, "manifest_val.csv"),
        out_dir=os.path.join(demo_dir, "models"),
        epochs=DEMO_EPOCHS,
        model_type=DEMO_MODEL_TYPE,
        num_workers=DEMO_NUM_WORKERS,
        gui=gui,
    )


def run_demo(demo_dir: str = DEFAULT_DEMO_DIR, gui: bool = False, printer: Printer | None = None) -> RunOutcome:
    """Write the demo data to DEMO_DIR/data (deterministic, so rewriting is harmless) and train into
    DEMO_DIR/models; an earlier demo run there is archived like any other run."""
    from trainer.demo_data import write_demo_data

    printer = printer or Printer()
    cfg = demo_config(demo_dir, gui)
    data = write_demo_data(Path(demo_dir) / "data", n=DEMO_N, seed=DEMO_SEED)
    printer.line(f"Wrote {data.n} synthetic segments ({data.n_train_positive + data.n_val_positive} HFO) "
                 f"to {os.path.join(demo_dir, 'data')}")
    printer.line(
        f"Training as: stlar-dl train-dl --train {cfg.train} --val {cfg.val} --out-dir {cfg.out_dir} "
        f"--epochs {cfg.epochs} --model-type {cfg.model_type} --num-workers {cfg.num_workers}"
        + (" --gui" if gui else "")
    )
    printer.line()
    return train_dl(cfg, printer)
