#!/usr/bin/env bash
# Set up .venv and run the whole test suite: pytest (unit, loopback HTTP, real kernels) + nbval.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/python -m pytest tests "$@"
