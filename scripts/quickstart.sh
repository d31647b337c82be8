#!/usr/bin/env bash
# Set up .venv and run the quickstart example offline (no API key needed).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" all
.venv/bin/python examples/quickstart.py
