#!/usr/bin/env bash
# The whole test suite (README's test command): sets up .venv if needed, then pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python -m pytest tests -ra -p no:cacheprovider "$@"
