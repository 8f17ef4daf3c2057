#!/usr/bin/env bash
# The one torchrun launcher of tools/dist_train.sh and tools/dist_test.sh:
#     tools/dist_launch.sh tools/TOOL NPROC_PER_NODE [tool args...]
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON.
# torchrun as usual, minus its ~50-line report when a worker fails: the worker's one-line
# error says what went wrong, one line below names the rank (with --debug, torchrun's full
# report).
TOOL=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$([ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}
# what torchrun does for several processes per node, without its banner saying so
if [ -z "${OMP_NUM_THREADS+x}" ] && [ "$GPUS" -gt 1 ] 2>/dev/null; then
    export OMP_NUM_THREADS=1
fi

read -r -d '' TORCHRUN <<'PY'
import logging
import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

debug = '--debug' in sys.argv
if not debug:  # its "Sending process N closing signal" and "failed (exitcode...)" lines
    logging.getLogger('torch.distributed.elastic.multiprocessing.api').setLevel(logging.CRITICAL)
try:
    run(parse_args(sys.argv[1:]))
except ChildFailedError as err:
    if debug:
        raise
    rank, failure = err.get_first_failure()
    code = failure.exitcode
    how = f'exited with status {code}' if code > 0 else f'was killed by {failure.signal_name()}'
    print(f'error: distributed run stopped: rank {rank} (pid {failure.pid}) {how} first',
          file=sys.stderr)
    sys.exit(code if code > 0 else 1)
PY

PYTHONPATH="$ROOT":$PYTHONPATH \
"$PYTHON" -c "$TORCHRUN" \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$ROOT/$TOOL" \
    "${@:3}"
