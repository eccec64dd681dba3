#!/usr/bin/env bash
# The oldest torch the bench runs on, measured: run the CPU bench tests (tests/bench) against one torch release.
# Usage: bash benchmarks/torch_floor.sh TORCH_VERSION [REPO]   e.g. bash benchmarks/torch_floor.sh 2.5.0
# Makes $FLOOR_DIR/venv-VERSION (default FLOOR_DIR=/tmp/envdoctor-floor; torch==VERSION and its torchvision from
# PyPI, several GB with the CUDA wheels), copies REPO's HEAD (default: this checkout) to $FLOOR_DIR/src-VERSION,
# installs envdoctor there with --no-deps -e, and runs the CPU bench tests. CI keeps the current torch; this is
# how the floor in pyproject.toml was found. Exit status: pytest's. Set KEEP_SRC=0 to delete the copy afterwards,
# INSTALL_ONLY=1 to stop after making the venv, PYTEST_ARGS to replace "-q -x -p no:cacheprovider".
set -euo pipefail
V="${1:?torch version, e.g. 2.1.0}"
REPO="${2:-$(cd "$(dirname "$0")/.." && pwd)}"
BASE="${FLOOR_DIR:-/tmp/envdoctor-floor}"
mkdir -p "$BASE"
VENV="$BASE/venv-$V"
SRC="$BASE/src-$V"

# torchvision that PyTorch released with this torch (2.N.P -> 0.(N+15).P; 2.0.x and 1.13.x differ)
case "$V" in
  1.13.*) TV="0.14.${V##*.}" ;;
  2.0.0)  TV="0.15.1" ;;
  2.0.1)  TV="0.15.2" ;;
  2.*)    minor="$(cut -d. -f2 <<<"$V")"; patch="$(cut -d. -f3 <<<"$V")"; TV="0.$((minor + 15)).${patch:-0}" ;;
  *) echo "no torchvision pairing known for torch $V" >&2; exit 2 ;;
esac
# torch < 2.4 was built against NumPy 1.x (NumPy 2 support came with torch 2.4).
# torch < 2.2: torch.utils.cpp_extension (imported by inductor, so by torch.compile) does
# `from pkg_resources import packaging`, which setuptools >= 70 no longer provides.
minor="$(cut -d. -f2 <<<"$V")"; major="$(cut -d. -f1 <<<"$V")"
if [ "$major" -lt 2 ] || [ "$minor" -lt 4 ]; then NUMPY='numpy<2'; else NUMPY='numpy'; fi
if [ "$major" -lt 2 ] || [ "$minor" -lt 2 ]; then SETUPTOOLS='setuptools<70'; else SETUPTOOLS='setuptools'; fi

echo "== torch $V, torchvision $TV, $NUMPY, $SETUPTOOLS"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --no-cache-dir -q --upgrade pip
  "$VENV/bin/python" -m pip install --no-cache-dir "torch==$V" "torchvision==$TV" "$NUMPY" "$SETUPTOOLS" \
      rich psutil nvidia-ml-py packaging pytest pytest-benchmark hypothesis
fi
[ "${INSTALL_ONLY:-0}" = 1 ] && exit 0
"$VENV/bin/python" -c 'import torch, torchvision, numpy, sys; import setuptools; print("python", sys.version.split()[0], "torch", torch.__version__, "torchvision", torchvision.__version__, "numpy", numpy.__version__, "setuptools", setuptools.__version__)'

rm -rf "$SRC"; mkdir -p "$SRC"
git -C "$REPO" archive HEAD | tar -x -C "$SRC"
echo "== envdoctor from $REPO at $(git -C "$REPO" rev-parse --short HEAD)"
"$VENV/bin/python" -m pip install --no-cache-dir -q --no-deps -e "$SRC"

cd "$SRC"
set +e
# A shell started in the background (no job control) ignores SIGINT, and that is inherited: give pytest the
# default SIGINT back, or test_ctrl_c_keeps_finished_cells cannot interrupt its bench.
# shellcheck disable=SC2086
"$VENV/bin/python" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
  "$VENV/bin/python" -m pytest tests/bench ${PYTEST_ARGS:--q -x -p no:cacheprovider}
rc=$?
set -e
cd "$BASE"
[ "${KEEP_SRC:-1}" = 0 ] && rm -rf "$SRC"
echo "== torch $V: pytest exit status $rc"
exit $rc
