#!/usr/bin/env bash
# Static checks, the same for everyone (pre-commit calls this): format diff, lint, types.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
.venv/bin/ruff format --check --diff openstackai_nb tests benchmarks
.venv/bin/ruff check openstackai_nb tests benchmarks
.venv/bin/pyright openstackai_nb
