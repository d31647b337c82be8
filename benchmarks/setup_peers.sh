#!/usr/bin/env bash
# Make benchmarks/.peers-venv: the peers (openai-agents, pydantic-ai) beside this repo, so every
# contender is measured in one invocation. The project env (.venv) never gets the peers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
venv="$here/.peers-venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet \
    "openai-agents" \
    "pydantic-ai-slim[openai]" \
    "httpx2" \
    "pyinstrument"
"$venv/bin/python" -m pip install --quiet -e "$repo"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
from importlib.metadata import PackageNotFoundError
for dist in ("openstackai-nb", "openai-agents", "pydantic-ai-slim", "openai", "httpx2", "httpx", "pydantic"):
    try:
        print(f"{dist:16} {version(dist)}")
    except PackageNotFoundError:
        print(f"{dist:16} (not installed)")
PY
echo "peers venv ready: $venv"
