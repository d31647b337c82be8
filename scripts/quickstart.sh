#!/usr/bin/env bash
# The README's main command: set up .venv, then open the quickstart notebook in JupyterLab.
#
#   bash scripts/quickstart.sh                    open notebooks/01-quickstart.ipynb in JupyterLab
#   bash scripts/quickstart.sh --execute          run it headless and offline (scripted model) with
#                                                 nbclient; write build/01-quickstart.executed.ipynb
#   bash scripts/quickstart.sh --execute --output PATH   write the executed copy to PATH instead
#
# With CI=true, or when stdin is not a terminal, --execute is implied (nothing waits for a browser).
# Without a display (a remote machine), JupyterLab starts with --no-browser and prints its URL.
# examples/quickstart.py is the same tour as a plain script: .venv/bin/python examples/quickstart.py
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev

NOTEBOOK=notebooks/01-quickstart.ipynb
mode=open
output=build/01-quickstart.executed.ipynb
while [ $# -gt 0 ]; do
  case "$1" in
    --execute) mode=execute ;;
    --output) output="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "quickstart.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "${CI:-}" = "true" ] || [ ! -t 0 ]; then
  mode=execute
fi

if [ "$mode" = execute ]; then
  # Offline on purpose: the executed copy must not depend on (or reveal anything about) a real endpoint.
  env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENSTACKAI_NB_MODEL \
    .venv/bin/python - "$NOTEBOOK" "$output" <<'PY'
import os
import shutil
import sys
import tempfile
import time

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

src, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
# IPC sockets where the platform has them: no TCP port opened, and no "running over TCP without
# encryption" warning from the kernel on a newcomer's first command. Their path must be absolute
# (the kernel runs in the notebook's folder) and short: a Unix socket's path (here "<ip>-<n>")
# has at most 103 bytes on macOS, 107 on Linux; a longer TMPDIR falls back to TCP.
sockets = tempfile.mkdtemp(prefix="osnb-")
ipc = os.path.join(sockets, "k")
km = None
t0 = time.monotonic()
try:
    if os.name == "posix" and len(ipc.encode()) <= 96:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=ipc)
    else:
        km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this venv's Python, whatever the installed kernelspecs say
    NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": os.path.dirname(src)}}).execute()
finally:
    if km is not None and km.has_kernel:
        km.shutdown_kernel()  # ours to stop: the client leaves a kernel it was given running
    shutil.rmtree(sockets, ignore_errors=True)  # also when the kernel could not be set up
nb.metadata.pop("widgets", None)  # live views are closed and replaced by static copies: no widget state
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
nbformat.write(nb, out)
print(f"executed {src} offline in {time.monotonic() - t0:.1f}s -> {out}")
PY
  exit 0
fi

lab_args=()
if [ "$(uname)" != Darwin ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: starting JupyterLab without a browser; open the URL it prints (Ctrl-C to stop)."
  lab_args+=(--no-browser)
fi
exec .venv/bin/jupyter lab "${lab_args[@]}" "$NOTEBOOK"
