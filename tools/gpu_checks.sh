#!/usr/bin/env bash
# The GPU checks of the CUDA-graph train step (issue 9), as one command on a CUDA machine:
#
#     bash tools/gpu_checks.sh [OFFICIAL_REPO]      # from the project root, ~5 min on an H100
#
# Everything ends within GPU_CHECKS_DEADLINE seconds (default 540: a 600 s call limit with room
# for the kit's install): each step gets its own limit or what is left, a step that would
# start with under 20 s left is skipped, and the table is printed (and written to
# $GPU_CHECKS_OUT/summary.txt, row by row as steps end) in any case.
# GPU_CHECKS_OUT=dir for the logs (default work_dirs/gpu_checks), GPU_CHECKS_ITERS=n for the
# training runs.
#
# Runs everything in the project's .venv (tools/setup_env.sh makes it when missing), or, with
# NICEGAN_GPU_KIT=DIR, through an offline kit (DIR/run.sh, copied to .gpu/: for a CUDA machine
# without a package registry, docs/development.md#gpu-checks), in order of importance:
#   1. tests/models/test_cuda_graph.py + tests/engine/test_schedule.py: deterministic graphed == eager bit
#      for bit (fp32 and bf16; weights, Adam state, SN vectors, losses), the lr the replayed
#      step uses, capture-failure / other-shape / AMP fallbacks, checkpoints and resume
#      across modes (graphed -> graphed exact, graphed -> eager, eager -> graphed);
#   2. tools/benchmark.py --device cuda at the paper config (light, ch 64, 6 blocks, n_dis 7,
#      256 px, batch 1) [--official-repo OFFICIAL_REPO]: official, eager, graph, graph_bf16;
#   3. tools/train.py at the paper config for 60 iterations on a generated toy set: eager,
#      --cuda-graph, --cuda-graph + bf16; ms/iteration from MMEngine's log (its 10-iteration
#      windows after iteration 20), peak memory.
# Exit status: number of failed or skipped steps.
set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OFFICIAL="${1:-}"
OUT="${GPU_CHECKS_OUT:-work_dirs/gpu_checks}"
mkdir -p "$OUT"
export CUBLAS_WORKSPACE_CONFIG=:4096:8

if [[ -n "${NICEGAN_GPU_KIT:-}" ]]; then
  [[ -f "$NICEGAN_GPU_KIT/run.sh" ]] \
    || { echo "gpu_checks: NICEGAN_GPU_KIT=$NICEGAN_GPU_KIT has no run.sh" >&2; exit 2; }
  [[ -f .gpu/run.sh ]] || cp -r "$NICEGAN_GPU_KIT" .gpu
  RUN=(bash .gpu/run.sh)
else
  [[ -x .venv/bin/python ]] || bash tools/setup_env.sh || exit 2
  RUN=(env "PATH=$PWD/.venv/bin:$PATH")
fi

DEADLINE=${GPU_CHECKS_DEADLINE:-540}
ROWS=()
FAILED=0
: > "$OUT/rows.txt"
step() {  # step NAME TIMEOUT_S LOGFILE CMD...: run, record status and seconds
  local name=$1 limit=$2 log=$3; shift 3
  local t0=$SECONDS rc left=$((DEADLINE - SECONDS)) status=PASS
  (( left < limit )) && limit=$left
  if (( limit < 20 )); then
    status="SKIPPED(no time)"; echo "=== $name: skipped, ${left}s left of ${DEADLINE}s"
  else
    echo "=== $name (limit ${limit}s)"
    timeout "$limit" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [[ $rc == 124 ]]; then status="TIMEOUT(${limit}s)"; elif [[ $rc != 0 ]]; then status="FAIL(rc=$rc)"; fi
  fi
  [[ $status == PASS ]] || FAILED=$((FAILED + 1))
  ROWS+=("$name|$status|$((SECONDS - t0))")
  echo "$name|$status|$((SECONDS - t0))" >> "$OUT/rows.txt"
}

"${RUN[@]}" python -c "import torch; print(torch.cuda.get_device_name(0))" || exit 2

# 1. CUDA tests (CPU ones too: cheap here)
step "pytest cuda graph + schedule" 150 "$OUT/pytest.log" "${RUN[@]}" python -m pytest \
  tests/models/test_cuda_graph.py tests/engine/test_schedule.py -q -s -rs -p no:cacheprovider

# 2. the benchmark at the paper config (plugin vs the official code when its clone is given)
BENCH=(python tools/benchmark.py --device cuda --img-size 256 --ch 64 --iters 20
       --json "$OUT/benchmark.json")
[[ -n "$OFFICIAL" ]] && BENCH+=(--official-repo "$OFFICIAL")
step "benchmark" 150 "$OUT/benchmark.log" "${RUN[@]}" "${BENCH[@]}"

# 3. the real training tool at the paper config, three modes
DATA="$OUT/toy256"
[[ -d "$DATA/trainA" ]] || "${RUN[@]}" python tools/make_toy_dataset.py "$DATA" --size 256 \
  --n-train 16 --n-test 2 > /dev/null
CFG=configs/nicegan/nicegan_light_1xb1-100kiters_horse2zebra.py
# no validation, FID or CAM panels (no Inception weights on a bare machine), no checkpoints
OPTS=(train_cfg.max_iters=60 train_cfg.val_begin=1000000 val_evaluator.metrics=[]
      test_evaluator.metrics=[] default_hooks.logger.interval=20
      default_hooks.checkpoint.interval=100000 default_hooks.checkpoint.save_last=False
      default_hooks.checkpoint.save_best=None custom_hooks=[] train_dataloader.num_workers=2
      train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA"
      test_dataloader.dataset.data_root="$DATA")
declare -A MODE_ARGS=([eager]="" [graph]="--cuda-graph" [graph_bf16]="--cuda-graph")
for mode in eager graph graph_bf16; do
  extra=()
  [[ $mode == graph_bf16 ]] && extra=(model.cuda_graph.bf16=True)
  [[ -n "${GPU_CHECKS_ITERS:-}" ]] && extra+=(train_cfg.max_iters="$GPU_CHECKS_ITERS")
  # shellcheck disable=SC2086
  step "train 256px $mode" 75 "$OUT/train_$mode.log" "${RUN[@]}" python tools/train.py "$CFG" \
    ${MODE_ARGS[$mode]} --work-dir "$OUT/train_$mode" --cfg-options "${OPTS[@]}" ${extra[@]+"${extra[@]}"}
done

# ---------------------------------------------------------------- summary table
iter_time() {  # mean 'time' of MMEngine's log lines after iteration 20; peak 'memory' (MB)
  awk '/Iter\(train\)/ {
         if (!match($0, /\[ *[0-9]+\//)) next; it = substr($0, RSTART + 1, RLENGTH - 2) + 0;
         if (match($0, / time: [0-9.]+/)) t = substr($0, RSTART + 7, RLENGTH - 7) + 0; else next;
         if (match($0, /memory: [0-9]+/)) { m = substr($0, RSTART + 8, RLENGTH - 8) + 0;
                                            if (m > peak) peak = m }
         if (it > 20) { s += t; c++ } }
       END { if (c) printf "%.1f ms/iter, peak %d MB", 1000 * s / c, peak; else printf "-" }' "$1" 2>/dev/null
}
summary() {
  echo "--- benchmark (tail of $OUT/benchmark.log)"; tail -n 25 "$OUT/benchmark.log" 2>/dev/null
  echo
  echo "================ gpu_checks summary ($( "${RUN[@]}" python -c 'import torch; print(torch.cuda.get_device_name(0), "torch", torch.__version__)' 2>/dev/null | tail -1))"
  printf '%-32s %-16s %6s  %s\n' check status sec detail
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name status secs <<< "$row"
    detail=""
    case $name in
      pytest*) detail="$(grep -Eo '[0-9]+ (passed|failed|skipped|error)' "$OUT/pytest.log" | paste -sd, -)"
               dev="$(grep -o 'max relative loss deviation [0-9.e+-]*' "$OUT/pytest.log" | head -1)"
               [[ -n $dev ]] && detail="$detail; graph vs plain eager $dev" ;;
      "train 256px "*) m=${name#train 256px }; detail="$(iter_time "$OUT/train_$m.log")"
               grep -qs 'cuda_graph: captured' "$OUT/train_$m.log" && detail="$detail, captured"
               grep -qs 'runs eagerly' "$OUT/train_$m.log" && detail="$detail, EAGER FALLBACK: $(grep -o 'cuda_graph: [^:]*' "$OUT/train_$m.log" | head -1)" ;;
      benchmark) detail="${OFFICIAL:+vs official $OFFICIAL; }table above, all figures in $OUT/benchmark.json"
               grep -qs 'ran EAGERLY' "$OUT/benchmark.log" && detail="$detail; GRAPH NOT CAPTURED (see note)" ;;
    esac
    printf '%-32s %-16s %6s  %s\n' "$name" "$status" "$secs" "$detail"
  done
}
summary | tee "$OUT/summary.txt"
exit "$FAILED"
