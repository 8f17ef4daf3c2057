#!/usr/bin/env bash
# The README's test command (what CI runs): sets up .venv if needed, lints with ruff
# (config in pyproject.toml), then runs the whole test suite with pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
# the browser test (tests/apis/test_demo_browser.py) drives Debian's chromium through its
# chromedriver: installed here where possible (root with apt-get), else that test skips
# and pytest -ra says why
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "== installing chromium + chromium-driver for the browser test (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } \
      || echo "warning: apt-get could not install chromium; the browser test will be skipped"
  else
    echo "note: no chromium/chromedriver and no root apt-get: the browser test will be skipped"
  fi
fi
echo "== ruff check (lint + import order)"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest tests -ra -p no:cacheprovider "$@"
