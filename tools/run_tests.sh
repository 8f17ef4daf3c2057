#!/usr/bin/env bash
# The README's test command (what CI runs): sets up .venv if needed (tools/setup_env.sh),
# lints with ruff (config in pyproject.toml), then runs the whole test suite with pytest.
# It installs nothing on the system: tests that need what is absent (a CUDA GPU, a clone of
# the official code in NICEGAN_OFFICIAL_REPO, Debian's chromium) skip with one line saying why.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
echo "== ruff check (lint + import order)"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest tests -ra -p no:cacheprovider "$@"
