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

echo "==> installing the assistant (llama-cpp-python compiles from source: ~5 minutes the first time)"
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
