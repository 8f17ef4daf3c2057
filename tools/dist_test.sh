#!/usr/bin/env bash
# Distributed testing: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# On a machine without GPUs, GPUS is the number of CPU processes (gloo backend). Each test
# image counts once in FID/KID whatever GPUS (the sampler's padding is dropped).
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON.
# torchrun as usual, minus its ~50-line report when a worker fails: the worker's one-line
# error says what went wrong, one line below names the rank (with --debug, torchrun's
# full report).
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
exec bash "$(dirname "$0")/dist_launch.sh" tools/test.py "$GPUS" $CONFIG $CHECKPOINT --launcher pytorch \
    "${@:4}"
