#!/usr/bin/env bash
# The README's test command (what CI runs): sets up .venv if needed, lints with ruff
# (config in pyproject.toml), then runs the whole test suite with pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
echo "== ruff check (lint + import order)"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest tests -ra -p no:cacheprovider "$@"
