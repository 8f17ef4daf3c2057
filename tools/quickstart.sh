#!/usr/bin/env bash
# The quickstart main job, end to end on a CPU:
#   1. set up .venv if needed (tools/setup_env.sh),
#   2. write the built-in toy day->night image set (no download),
#   3. train a small NICE-GAN on it with tools/train.py and a real config,
#   4. run tools/test.py on the last checkpoint (translations + metrics),
#   5. write one PNG grid (inputs, translations, CAM heatmaps), draw the training curves
#      (WORK_DIR/curves.png, as tools/plot_curves.py does) and print a summary.
# Env: QUICKSTART_ITERS (default 600), WORK_DIR (default work_dirs/quickstart),
#      QUICKSTART_DATA (default data/toy_day2night), NICEGAN_INCEPTION (other FID weights).
set -euo pipefail
# third-party import-time deprecation notices (diffusers, timm, controlnet_aux) only
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::FutureWarning,ignore::UserWarning,ignore::DeprecationWarning}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ITERS="${QUICKSTART_ITERS:-600}"
WORK_DIR="${WORK_DIR:-work_dirs/quickstart}"
DATA="${QUICKSTART_DATA:-data/toy_day2night}"
CONFIG=configs/nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py

# (re)run the set-up when the environment is missing or its editable install of the plugin
# belongs to another clone (clones on a machine share one environment)
if [[ ! -f .venv/.nicegan-ready ]] || ! grep -qsF "'$ROOT/nicegan_plugin'" \
    .venv/lib/python*/site-packages/__editable___nicegan_mmagic_*_finder.py; then
  bash tools/setup_env.sh
fi
PY=.venv/bin/python

# the config holds the defaults (600 iterations, data/toy_day2night); override only what differs
OPTS=()
if [[ "$ITERS" != 600 ]]; then
  SAVE=$(( ITERS < 200 ? ITERS : 200 ))
  OPTS+=(train_cfg.max_iters="$ITERS" default_hooks.checkpoint.interval="$SAVE"
         custom_hooks.0.interval="$SAVE")
  (( ITERS < 100 )) && OPTS+=(default_hooks.logger.interval=1)
fi
if [[ "$DATA" != data/toy_day2night ]]; then
  OPTS+=(train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA"
         test_dataloader.dataset.data_root="$DATA")
fi
CFG_OPTS=(); (( ${#OPTS[@]} )) && CFG_OPTS=(--cfg-options "${OPTS[@]}")
DATA_OPTS=(); [[ "$DATA" != data/toy_day2night ]] && DATA_OPTS=(--cfg-options
  train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA"
  test_dataloader.dataset.data_root="$DATA")

echo "== 1/4 toy data -> $DATA"
$PY tools/make_toy_dataset.py "$DATA"

echo "== 2/4 training $ITERS iterations (MMagic runner; log with ETA below)"
# a second run resumes (a finished run: nothing to train) instead of writing over the first
$PY tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --resume auto-or-new "${CFG_OPTS[@]}"

# the checkpoint the run ended with (a rerun in the same WORK_DIR may have resumed a longer run)
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
[[ "$CKPT" == /* ]] || CKPT="$WORK_DIR/$CKPT"
[[ "$CKPT" == */iter_${ITERS}.pth ]] || echo "note: $WORK_DIR holds a run that ended at $CKPT; using it"
echo "== 3/4 testing $CKPT"
$PY tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" "${DATA_OPTS[@]}"

echo "== 4/4 translating the test images, drawing the grid and the training curves"
$PY tools/translate.py "$CONFIG" "$CKPT" --input "$DATA/testA" \
  --output "$WORK_DIR/translate_day2night" --direction a2b --heatmaps
$PY tools/quickstart_summary.py "$CONFIG" "$CKPT" --data "$DATA" --work-dir "$WORK_DIR"
