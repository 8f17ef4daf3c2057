#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG GPUS [train.py args...]
# On a machine without GPUs, GPUS is the number of CPU processes (gloo backend).
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON.
# Several nodes: run it once per node with NODE_RANK=0..NNODES-1 (the same work dir on a
# shared file system is one run: global rank 0 holds its lock). torchrun as usual, minus
# its ~50-line report when a worker fails: the worker's one-line error says what went
# wrong, one line below names the rank (with --debug, torchrun's full report).
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/dist_launch.sh" tools/train.py "$GPUS" $CONFIG --launcher pytorch "${@:3}"
