"""The trainer's commands: `train-dl`, `demo-data` and `demo`. A thin shell over `trainer.train_dl`.

Options are parsed here and handed on; library code raises StlarError for anything the user can fix and
`stlar_dl/cli.py` turns it into one line and exit code 2. torch is imported only when a command runs, so
`stlar-dl --help` and `stlar-dl watch` do not pay for it.
"""

from __future__ import annotations

from typing import Optional

import typer

from shared.errors import InputError
from shared.rundir import DEFAULT_RUN_DIR
from trainer import config as c

EXIT_HELP = ("Exit status: 0 finished, early-stopped or stopped; 2 bad input or run dir; 3 diverged; "
             "130 Ctrl-C, 143 SIGTERM; 1 internal error.")


def train_dl_command(
    ctx: typer.Context,
    train: str = typer.Option(None, "--train", metavar="CSV", help="Training manifest CSV (columns segment_path, "
                              "label); required unless --resume RUN_DIR.", show_default=False),
    val: str = typer.Option(None, "--val", metavar="CSV", help="Validation manifest CSV, same format as --train; "
                            "required unless --resume RUN_DIR.", show_default=False),
    epochs: int = typer.Option(c.EPOCHS, "--epochs", help="Most epochs to train, >= 1."),
    batch_size: int = typer.Option(c.BATCH_SIZE, "--batch-size", help="Segments per optimiser step, >= 1."),
    lr: float = typer.Option(c.LR, "--lr", help="Adam learning rate, >= 0."),
    weight_decay: float = typer.Option(c.WEIGHT_DECAY, "--weight-decay", help="Adam weight decay (L2), >= 0."),
    out_dir: str = typer.Option(DEFAULT_RUN_DIR, "--out-dir", metavar="DIR",
                                help="Run folder for log, best.pt, metrics and curves; an earlier run is archived."),
    num_workers: int = typer.Option(c.NUM_WORKERS, "--num-workers",
                                    help="Data-loader worker processes, >= 0 (0 = load in this process)."),
    model_type: int = typer.Option(
        c.MODEL_TYPE, "--model-type",
        help="STLAR's model types: 1 Simple 1-D CNN, 2 ResNet-1D, 3 InceptionTime, 4 HFO Transformer, 5 Spectrogram "
             "2-D CNN (segments of at least 96 samples). best.pt loads into STLAR's build_model(N) unchanged."),
    fs: float = typer.Option(c.FS, "--fs", help="Sampling rate of the segments in Hz, > 0; recorded in the "
                             "config and the export (the models themselves work in samples)."),
    patience: int = typer.Option(c.PATIENCE, "--patience",
                                 help="Early stop after this many epochs without a new best val loss, >= 0; 0 turns early "
                                      "stopping off (all --epochs are trained)."),
    min_delta: float = typer.Option(c.MIN_DELTA, "--min-delta",
                                    help="Val-loss decrease that counts as a new best, loss units, >= 0."),
    lr_schedule: str = typer.Option(c.LR_SCHEDULE, "--lr-schedule", metavar="none|plateau",
                                    help="plateau: multiply the lr by --lr-factor when the val loss has had no new "
                                    "best (by more than 0.001) for 5 epochs, then wait at least 5 epochs before "
                                    "the next cut; none: keep --lr (early stopping keeps its own --patience)."),
    lr_factor: float = typer.Option(c.LR_FACTOR, "--lr-factor",
                                    help="With --lr-schedule plateau: multiply the lr by this, 0 < factor < 1."),
    min_lr: float = typer.Option(c.MIN_LR, "--min-lr",
                                 help="With --lr-schedule plateau: never cut the lr below this, >= 0."),
    no_plot: bool = typer.Option(False, "--no-plot",
                                 help="Skip training_curves.png (the metrics and params JSON are still written)."),
    gui: bool = typer.Option(False, "--gui", help="Also open the live viewer (stlar-dl watch OUT_DIR) in its own window."),
    device: str = typer.Option(c.DEVICE, "--device", metavar="DEVICE", help="auto (cuda if available, else cpu), cpu, cuda or cuda:N."),
    seed: int = typer.Option(c.SEED, "--seed",
                             help="Seed for weights and shuffling, >= 0; same seed, data and CPU give the same losses."),
    threads: int = typer.Option(c.THREADS, "--threads",
                                help="torch CPU threads, >= 0; 0 = torch's default, one per core (or OMP_NUM_THREADS). "
                                     "Fewer can be faster when other busy processes (a live viewer, data-loader "
                                     "workers) share a few cores."),
    max_samples: int = typer.Option(
        c.MAX_SAMPLES, "--max-samples",
        help="The longest segment accepted, in samples, >= 1; a longer one is refused while validating (every "
             "batch is padded to its longest segment: one huge file would exhaust memory)."),
    use_cwt: bool = typer.Option(False, "--use-cwt", help="STLAR's CWT input (type 6): not supported, refused."),
    debug_cwt: bool = typer.Option(False, "--debug-cwt", help="STLAR's CWT debugging: not supported, refused."),
    resume: str = typer.Option(None, "--resume", metavar="RUN_DIR|auto",
                               help="Continue the run in RUN_DIR from its last epoch (same run id; options not "
                                    "given are the run's own; --epochs, --lr and the like may change, the model and "
                                    "data may not). 'auto': continue the run in --out-dir if it is unfinished "
                                    "(killed, interrupted or failed), else start a new one.", show_default=False),
) -> None:
    """Train a 1-D CNN HFO classifier from STLAR manifests.

    Writes OUT_DIR/training_log.jsonl as it goes and OUT_DIR/best.pt on each new best val loss.

    Watch it with `stlar-dl watch OUT_DIR`; stop it after the current epoch with `stlar-dl stop OUT_DIR` or Ctrl-C.

    At the end: training_metrics.json, training_params.json and training_curves.png.

    Every epoch also keeps OUT_DIR/last.pt, which --resume continues from.

    Under torchrun (torchrun --nproc-per-node N -m stlar_dl train-dl ...) each process trains on its share of the data.
    """
    c.refuse_cwt(use_cwt, debug_cwt)
    from trainer.train_dl import train_dl

    # Options given on the command line replace a resumed run's own; the others are the run's.
    given = frozenset(name for name in c.OPTION_NAMES
                      if (source := ctx.get_parameter_source(name)) is not None and source.name != "DEFAULT")
    if resume is None or resume == "auto":
        for flag, value in (("--train", train), ("--val", val)):
            if value is None:
                raise InputError(f"Missing option '{flag}' (only --resume RUN_DIR may leave it out: it continues "
                                   "the run with the run's own manifests)")
    cfg = c.TrainConfig(train=train or "", val=val or "", epochs=epochs, batch_size=batch_size, lr=lr,
                        weight_decay=weight_decay, out_dir=out_dir, num_workers=num_workers,
                        model_type=model_type, fs=fs, patience=patience, min_delta=min_delta, no_plot=no_plot,
                        gui=gui, device=device, seed=seed, threads=threads, lr_schedule=lr_schedule,
                        lr_factor=lr_factor, min_lr=min_lr, max_samples=max_samples)
    outcome = train_dl(cfg, resume=resume, given=given)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def demo_data_command(
    out_dir: str = typer.Argument(..., metavar="DIR", help="Folder for segments/ and the two manifests.",
                                  show_default=False),
    n: int = typer.Option(2000, "--n", help="Number of segments, >= 10 (half HFO); 20% go to validation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic data, >= 0; same seed, same files."),
) -> None:
    """Write a synthetic HFO data set in STLAR's manifest format.

    Positives are ripples and fast ripples; negatives are background, spikes, steps and slow waves (15-120 ms at 4800 Hz).
    """  # noqa: E501 - typer keeps a paragraph's line breaks
    import os

    from trainer.demo_data import write_demo_data

    data = write_demo_data(out_dir, n=n, seed=seed)
    train_csv = os.path.join(out_dir, data.train_manifest.name)
    val_csv = os.path.join(out_dir, data.val_manifest.name)
    typer.echo(f"Wrote {data.n} segments to {os.path.join(out_dir, data.segments_dir.name)}")
    typer.echo(f"  {train_csv}: {data.n_train} segments ({data.n_train_positive} HFO)")
    typer.echo(f"  {val_csv}: {data.n_val} segments ({data.n_val_positive} HFO)")
    typer.echo(f"Train on it with: stlar-dl train-dl --train {train_csv} --val {val_csv}")


def demo_command(
    demo_dir: str = typer.Argument("stlar-dl-demo", metavar="DIR", help="Folder for data/ and models/."),
    gui: bool = typer.Option(False, "--gui", help="Also open the live viewer on DIR/models."),
) -> None:
    """Make demo data and train on it headless in well under a minute: the quickest tour of stlar-dl."""
    from trainer.demo import run_demo

    outcome = run_demo(demo_dir, gui=gui)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def export_command(
    target: str = typer.Argument(..., metavar="RUN_DIR|CHECKPOINT", show_default=False,
                                 help="A run dir (its best.pt is exported) or a checkpoint file."),
    ts: Optional[str] = typer.Option(None, "--ts", metavar="FILE", show_default=False,
                                     help="TorchScript file to write; default model_torchscript.pt beside the checkpoint."),
    onnx: Optional[str] = typer.Option(None, "--onnx", metavar="FILE", show_default=False,
                                       # \[ : a bare [onnx] would be read as rich markup and vanish
                                       help="Also write ONNX (dynamic batch and length) to FILE; needs the onnx "
                                            "extra: pip install 'stlar-dl\\[onnx]'."),
    example_len: int = typer.Option(2000, "--example-len", metavar="SAMPLES",
                                    help="Length of the example window the ONNX exporter traces with; the "
                                         "exports accept any length the model does."),
) -> None:
    """Export a checkpoint for STLAR's DL detection: TorchScript (and optionally ONNX) plus a JSON beside it.

    Each file is loaded back and must give the checkpoint's probabilities (max difference 1e-5) on random windows of several batch sizes and lengths before it is kept. The JSON carries the decision threshold, the sampling rate and the input contract: (batch, 1, length) float32, each window z-scored on its own; output logits (batch, 1), P(HFO) = sigmoid.
    """  # noqa: E501 - typer keeps a paragraph's line breaks
    from trainer.export import export

    result = export(target, ts=ts, onnx=onnx, example_len=example_len, say=typer.echo)
    for path in result.files:
        if path.suffix == ".json":
            typer.echo(f"Wrote {path}")
    typer.echo(f"Decision threshold: {result.threshold:g} ({result.threshold_source})")


def register(app: typer.Typer) -> None:
    """Add `train-dl`, `demo-data`, `demo` and `export` to the `stlar-dl` app."""
    app.command("train-dl", epilog=EXIT_HELP)(train_dl_command)
    app.command("demo-data")(demo_data_command)
    app.command("demo")(demo_command)
    app.command("export")(export_command)
