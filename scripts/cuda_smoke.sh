#!/usr/bin/env bash
# CUDA smoke run of `stlar-dl train-dl`: what the CPU test suite cannot check, in one short script for a lent GPU.
#
# Checks, each printed as PASS/FAIL:
#   1. torch sees the device (nvidia-smi -L, torch and CUDA versions printed first);
#   2. train-dl --device $DEVICE --num-workers 0 on demo data exits 0 and leaves best.pt,
#      training_metrics.json, training_params.json, a PNG training_curves.png and a log whose start
#      record names the device and whose end record says completed;
#   3. best.pt loads with torch.load(map_location="cpu", weights_only=True) into a fresh model of its type
#      (tensors saved from the GPU must come back on the CPU) and predicts finite logits;
#   4. --num-workers 2 (worker processes handing batches to a CUDA model) and --model-type 1 also finish;
#   5. `stlar-dl stop RUN_DIR` during a long run: the trainer finishes its epoch, writes an end record with
#      reason "stopped" and exits 0;
#   6. with 2 GPUs (DEVICE=cpu: 2 CPU processes with gloo): `torchrun --standalone --nproc-per-node 2 -m stlar_dl
#      train-dl --device $DEVICE` exits 0 with one gapless log whose start record says world_size 2 and device
#      cuda:0 (NCCL); best.pt evaluated in one process gives the logged val loss (to 1e-5: GPU kernels differ in
#      the last bits); then --resume with more epochs continues the run under torchrun.
#
# Usage: bash scripts/cuda_smoke.sh                 (DEVICE=cuda by default; on the GPU machine)
#        DEVICE=cpu bash scripts/cuda_smoke.sh      (dry run of the same steps on a machine without a GPU)
# Python packages missing on the GPU machine travel as wheels in .whl/ (see /work/.library/device/README.md);
# they are installed to /tmp/site only where python3 lacks them. The log goes to $OUT/cuda_smoke.log.
# Exit status: the number of failed checks (0 = all passed).
set -u -o pipefail

DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$(mktemp -d)}
WORK=$(mktemp -d)
LOG="$OUT/cuda_smoke.log"
mkdir -p "$OUT"
exec > >(tee "$LOG") 2>&1
export PYTHONUNBUFFERED=1
FAILED=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; FAILED=$((FAILED + 1)); }
check() {  # check NAME COMMAND...: PASS if the command exits 0
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name (exit $?)"; fi
}

# ---- 0. packages: the wheels only where python3 lacks them (the GPU machine has no watchdog or orjson) ----
SITE=/tmp/site
if ! python3 -c "import watchdog, orjson" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        .whl/*.whl || { echo "FAIL install wheels"; exit 99; }
fi
export PYTHONPATH="$SITE:$PWD"
# An older typer there may not run our CLI; the one we test with travels in .whl/typer as a fallback.
# (`-h`, not `--version`: the plain --version starts without typer, see stlar_dl/cli.py.)
if ! python3 -m stlar_dl -h >/dev/null; then
    echo "note: the installed typer cannot run stlar-dl; installing .whl/typer"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        .whl/typer/*.whl || { echo "FAIL install typer wheels"; exit 99; }
    check "stlar-dl runs with the carried typer" python3 -m stlar_dl -h
fi
echo "== environment (DEVICE=$DEVICE)"
command -v nvidia-smi >/dev/null && nvidia-smi -L
python3 - <<'EOF'
import platform, torch, typer, matplotlib, numpy
print(f"python {platform.python_version()} torch {torch.__version__} cuda {torch.version.cuda} "
      f"cudnn {torch.backends.cudnn.version()} available {torch.cuda.is_available()} "
      f"gpus {torch.cuda.device_count()} typer {typer.__version__} matplotlib {matplotlib.__version__} "
      f"numpy {numpy.__version__}")
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0))
EOF
if [ "$DEVICE" != cpu ]; then
    check "torch sees CUDA" python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())"
fi

stlar-dl() { python3 -m stlar_dl "$@"; }

# ---- 1. demo data -------------------------------------------------------------------------------------
DATA="$WORK/data"
check "demo-data" stlar-dl demo-data "$DATA" --n 2000 --seed 0

# The run dir's outputs and the log's start/epoch/end records; prints each epoch's seconds.
check_run() {  # check_run RUN_DIR EXPECTED_REASON EXPECTED_EPOCHS(or -)
    python3 - "$@" "$DEVICE" <<'EOF'
import json, sys
from pathlib import Path
run, reason, epochs, device = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
bad = []
for name in ("best.pt", "training_metrics.json", "training_params.json", "training_curves.png",
             "training_log.jsonl"):
    p = run / name
    if not p.is_file() or p.stat().st_size == 0:
        bad.append(f"{name} missing or empty")
png = run / "training_curves.png"
if png.is_file() and png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
    bad.append("training_curves.png is not a PNG")
for name in ("training_metrics.json", "training_params.json"):
    try:
        json.loads((run / name).read_text())
    except (OSError, ValueError) as exc:
        bad.append(f"{name}: {exc}")
records = [json.loads(line) for line in (run / "training_log.jsonl").read_text().splitlines()]
start = [r for r in records if r["type"] == "start"]
ends = [r for r in records if r["type"] == "end"]
ep = [r for r in records if r["type"] == "epoch"]
if not start or not str(start[0].get("device", "")).startswith(device):
    bad.append(f"start record device {start[0].get('device') if start else None!r}, wanted {device}")
resumes = sum(r["type"] == "resume" for r in records)  # each resume follows an earlier end (or a kill)
if not ends or len(ends) > 1 + resumes or ends[-1]["reason"] != reason or records[-1]["type"] != "end":
    bad.append(f"end records {[(e['reason'], e['message']) for e in ends]}, wanted a last one {reason!r}")
if epochs != "-" and len(ep) != int(epochs):
    bad.append(f"{len(ep)} epoch records, wanted {epochs}")
print(f"  {run.name}: device {start[0].get('device') if start else None}, epochs "
      + ", ".join(f"{r['epoch']}: {r['seconds']:.2f} s (train {r['train_loss']:.3f} val {r['val_loss']:.3f})"
                  for r in ep))
for b in bad:
    print("  problem:", b)
sys.exit(1 if bad else 0)
EOF
}

train() {  # train RUN_DIR EPOCHS EXTRA_ARGS...: a foreground run; its exit status and wall time
    local run=$1 epochs=$2; shift 2
    local t0=$SECONDS
    stlar-dl train-dl --train "$DATA/manifest_train.csv" --val "$DATA/manifest_val.csv" --device "$DEVICE" \
        --epochs "$epochs" --out-dir "$run" "$@" > "$run.console" 2>&1
    local rc=$?
    echo "  train-dl $* -> exit $rc in $((SECONDS - t0)) s"
    [ $rc -eq 0 ] || tail -n 20 "$run.console"
    return $rc
}

# ---- 2. a plain run in this process, then its checkpoint --------------------------------------------------
RUN="$WORK/run_main"
check "train-dl --device $DEVICE --num-workers 0 exits 0" train "$RUN" 4 --num-workers 0 --patience 100
check "run dir outputs and log (num-workers 0)" check_run "$RUN" completed 4
check "best.pt loads on the CPU into its model" python3 - "$RUN/best.pt" <<'EOF'
import sys, torch
from trainer.models import build_model
from trainer.checkpoint import load_model
data = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
devices = {t.device.type for t in data["model_state"].values()}
model = build_model(int(data["model_type"]))
model.load_state_dict(data["model_state"])
model.eval()
with torch.no_grad():
    logits = model(torch.randn(3, 1, 300))
same = load_model(sys.argv[1])(torch.zeros(2, 1, 300))
print(f"  best.pt: epoch {data['epoch']}, val loss {data['val_loss']}, tensors on {devices}, "
      f"logits shape {tuple(logits.shape)}")
sys.exit(0 if devices == {"cpu"} and torch.isfinite(logits).all() and torch.isfinite(same).all() else 1)
EOF

# ---- 3. worker processes and the other model --------------------------------------------------------------
RUN_W="$WORK/run_workers"
check "train-dl --device $DEVICE --num-workers 2 exits 0" train "$RUN_W" 3 --num-workers 2 --patience 100
check "run dir outputs and log (num-workers 2)" check_run "$RUN_W" completed 3
RUN_1="$WORK/run_model1"
check "train-dl --device $DEVICE --model-type 1 exits 0" train "$RUN_1" 2 --model-type 1 --num-workers 0
check "run dir outputs and log (model type 1)" check_run "$RUN_1" completed 2

# ---- 4. stop a long run from another process --------------------------------------------------------------
RUN_S="$WORK/run_stop"
stlar-dl train-dl --train "$DATA/manifest_train.csv" --val "$DATA/manifest_val.csv" --device "$DEVICE" \
    --epochs 500 --patience 1000 --num-workers 2 --out-dir "$RUN_S" > "$RUN_S.console" 2>&1 &
TRAINER=$!
epochs_logged() { cat "$RUN_S/training_log.jsonl" 2>/dev/null | grep -c '"type": *"epoch"'; }  # 0 before the log
for _ in $(seq 1 600); do  # up to 120 s for two epochs
    [ "$(epochs_logged)" -ge 2 ] && break
    kill -0 $TRAINER 2>/dev/null || break
    sleep 0.2
done
echo "  epochs logged before the stop: $(epochs_logged)"
check "stlar-dl stop RUN_DIR" stlar-dl stop "$RUN_S"
for _ in $(seq 1 600); do  # up to 120 s to finish the epoch and write its outputs
    kill -0 $TRAINER 2>/dev/null || break
    sleep 0.2
done
if kill -0 $TRAINER 2>/dev/null; then
    fail "trainer exits after stop (still running after 120 s; killing it)"
    kill $TRAINER
    wait $TRAINER
else
    wait $TRAINER
    rc=$?
    if [ $rc -eq 0 ]; then pass "trainer exits 0 after stop"; else fail "trainer exits 0 after stop (exit $rc)"; tail -n 20 "$RUN_S.console"; fi
fi
check "stopped run: outputs and end reason stopped" check_run "$RUN_S" stopped -

# ---- 6. two processes under torchrun (NCCL on 2 GPUs; gloo on the CPU for the dry run) -----------------------
GPUS=$(python3 -c "import torch; print(torch.cuda.device_count())")
if [ "$DEVICE" != cpu ] && [ "$GPUS" -lt 2 ]; then
    echo "SKIP torchrun with 2 GPUs (this machine has $GPUS)"
else
    RUN_D="$WORK/run_torchrun"
    torchrun2() { python3 -m torch.distributed.run --standalone --nproc-per-node 2 -m stlar_dl train-dl \
        --train "$DATA/manifest_train.csv" --val "$DATA/manifest_val.csv" --device "$DEVICE" --out-dir "$RUN_D" \
        --num-workers 0 --patience 100 "$@" > "$RUN_D.console" 2>&1; }
    check "torchrun 2 processes --device $DEVICE exits 0" torchrun2 --epochs 3
    [ -f "$RUN_D.console" ] && tail -n 5 "$RUN_D.console"
    check "torchrun run dir outputs and log" check_run "$RUN_D" completed 3
    check "torchrun log: gapless, world_size 2, best.pt evaluates to the logged val loss" python3 - "$RUN_D" <<'EOF'
import json, sys
from pathlib import Path
import torch
from trainer.checkpoint import load_model
from trainer.data import load_manifest, make_loader
run = Path(sys.argv[1])
records = [json.loads(line) for line in (run / "training_log.jsonl").read_text().splitlines()]
start, end = records[0], records[-1]
best = next(r for r in records if r["type"] == "epoch" and r["epoch"] == end["best_epoch"])
cfg = start["config"]
model = load_model(run / "best.pt")
loss_fn, total, n = torch.nn.BCEWithLogitsLoss(), 0.0, 0
with torch.no_grad():
    for x, y in make_loader(load_manifest(cfg["val"]), cfg["batch_size"], shuffle=False, seed=0, num_workers=0):
        total += float(loss_fn(model(x), y)) * len(y)
        n += len(y)
print(f"  start device {start['device']} world_size {start['world_size']}; best epoch {best['epoch']} val loss "
      f"{best['val_loss']:.6f} logged, {total / n:.6f} evaluated in one process")
ok = ([r["seq"] for r in records] == list(range(len(records))) and start["world_size"] == 2
      and abs(total / n - best["val_loss"]) <= 1e-5)
sys.exit(0 if ok else 1)
EOF
    check "torchrun --resume with more epochs exits 0" torchrun2 --resume "$RUN_D" --epochs 5
    check "resumed torchrun run: outputs and 5 epochs" check_run "$RUN_D" completed 5
fi

echo "== console of the first run"
cat "$RUN.console"
echo "== $FAILED failed check(s)"
rm -rf "$WORK"
exec >&- 2>&-  # let tee write the end of the log before we go
wait
exit $FAILED
