#!/usr/bin/env bash
# Set up .venv and run the whole test suite: pytest (unit, loopback HTTP, real kernels, browser)
# and nbval over every notebook in notebooks/.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
export PYTHONDONTWRITEBYTECODE=1
nbargs=()
if compgen -G "notebooks/*.ipynb" >/dev/null; then
  nbargs=(notebooks --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval-sanitize.cfg)
fi
.venv/bin/python -m pytest tests "${nbargs[@]}" "$@"
