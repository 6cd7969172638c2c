#!/usr/bin/env bash
# Set up the assistant in ./.venv (CPU only). Safe to run again: it only adds what is missing.
#   ./install.sh         the assistant itself
#   ./install.sh --dev   plus the test tools: pytest, ruff, and a headless Chromium for UI tests
set -euo pipefail
cd "$(dirname "$0")"

dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }

# torch first, pinned to a CPU build: an unpinned torch pulls several GB of CUDA packages.
# Elsewhere, point TORCH_INDEX_URL at https://download.pytorch.org/whl/cpu.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "==> installing torch (CPU)"
  pip install -q "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi

# llama-cpp-python next, compiled for the instruction sets this CPU runs, not with its
# default -march=native: a VM's CPU can show AMX (or AVX512) that the OS does not enable, and
# the first token of a quantized model then dies with SIGILL. pip reuses a wheel it built
# before, whatever CMAKE_ARGS say now, so the build is checked (assistant/generate/cpu.py --check
# reads llama_print_system_info) and rebuilt, bypassing pip's cache, when it does not fit.
# A check that passes costs about a second and nothing is rebuilt.
# CMAKE_ARGS of your own (a GPU backend, say) go after these, so they win.
llama_spec=$(grep -o '"llama-cpp-python[^"]*"' pyproject.toml | tr -d '"')
llama_check() { llama_msg=$(.venv/bin/python assistant/generate/cpu.py --check) && llama_rc=0 || llama_rc=$?; }
llama_check
if [ "$llama_rc" != 0 ]; then
  cmake_args="$(.venv/bin/python assistant/generate/cpu.py --cmake-args) ${CMAKE_ARGS:-}"
  if [ "$llama_rc" = 3 ]; then  # not importable: install it (a cached wheel may come back)
    echo "==> installing llama-cpp-python for this CPU (compiles from source, ~5 minutes, unless pip kept a wheel)"
    CMAKE_ARGS="$cmake_args" pip install -q "$llama_spec"
    llama_check
  fi
  if [ "$llama_rc" != 0 ]; then
    echo "==> $llama_msg"
    echo "==> rebuilding llama-cpp-python for this CPU (compiles from source: ~5 minutes)"
    version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))" 2>/dev/null || true)
    # --no-deps keeps the installed dependencies, the [server] extra's among them.
    CMAKE_ARGS="$cmake_args" pip install -q --no-cache-dir --force-reinstall --no-deps \
      --no-binary llama-cpp-python "llama-cpp-python${version:+==$version}"
    llama_check
    if [ "$llama_rc" = 2 ]; then
      echo "==> warning: $llama_msg (CMAKE_ARGS: $cmake_args)"
    elif [ "$llama_rc" != 0 ]; then
      echo "error: llama-cpp-python still does not fit this CPU after a rebuild: $llama_msg" >&2
      echo "       CMAKE_ARGS were: $cmake_args" >&2
      echo "       local models would not run; see .venv/bin/python assistant/generate/cpu.py --check" >&2
      exit 1
    fi
  fi
fi
echo "==> llama.cpp: $llama_msg"

echo "==> installing the assistant"
if [ "$dev" = 1 ]; then
  pip install -q -e ".[dev]"
else
  pip install -q -e .
fi

if [ "$dev" = 1 ] && ! dpkg -s chromium chromium-driver fonts-wqy-microhei >/dev/null 2>&1; then
  echo "==> installing Chromium and ChromeDriver for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null
fi
echo "==> ready: .venv/bin/assistant --help"
