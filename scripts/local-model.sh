#!/usr/bin/env bash
# A real model offline, without a key: build (once per machine, about 7 minutes on 2 idle cores) or reuse llama.cpp's
# llama-server and SmolLM2-135M-Instruct (scripts/llama_server.sh), then serve it on a free port
# of 127.0.0.1 in the foreground (Ctrl-C stops it) and print the lines to use it.
#   bash scripts/local-model.sh [--port N] [extra llama-server options...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/llama_server.sh
llama_server_ensure
smollm2_ensure

port=""
if [ "${1:-}" = "--port" ]; then
  port=$2
  shift 2
fi
if [ -z "$port" ]; then
  port=$("${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

cat <<EOF
llama-server ($LLAMA_SERVER_BIN) serving SmolLM2-135M-Instruct on http://127.0.0.1:$port (Ctrl-C stops it)
In another shell or a notebook:
  export LLAMACPP_BASE_URL=http://127.0.0.1:$port/v1
  Agent(model="llamacpp:smollm2")
(or in Python: os.environ["LLAMACPP_BASE_URL"] = "http://127.0.0.1:$port/v1")
EOF
exec "$LLAMA_SERVER_BIN" -m "$SMOLLM2_GGUF" --host 127.0.0.1 --port "$port" -np 4 -c 4096 -t 2 --jinja "$@"
