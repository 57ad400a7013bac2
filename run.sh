#!/usr/bin/env bash
# One-command set-up for this repository.
#
#   bash run.sh demo [train_gqn_draw.py flags]  install, then train GQN on a small
#                                                rendered dataset (or DATA_DIR=...)
#   bash run.sh test [--fast] [pytest flags]    install (with requirements-dev.txt), lint
#                                                (ruff), then run the test suite; --fast
#                                                leaves out the tests marked slow
#   bash run.sh setup                           install only
#
# The virtual environment lives in ./.venv (override with VENV=...). It is
# created on first use and reinstalled only when requirements.txt,
# requirements-dev.txt (for test) or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY="$VENV/bin/python"

setup_python() {
  if [ ! -x "$PY" ]; then
    echo "[setup] creating virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp
  stamp="$VENV/.installed-$(cat requirements.txt pyproject.toml | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "[setup] installing requirements (first run takes a few minutes)"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -r requirements.txt
    "$PY" -m pip install -q --no-deps -e .
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

setup_dev() {
  # Test and lint tools (pytest, ruff), only for `test`.
  local stamp
  stamp="$VENV/.dev-installed-$(sha1sum < requirements-dev.txt | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "[setup] installing requirements-dev.txt"
    "$PY" -m pip install -q -r requirements-dev.txt
    rm -f "$VENV"/.dev-installed-*
    touch "$stamp"
  fi
}

setup_osmesa() {
  # Offscreen VTK rendering needs Mesa's OSMesa library when there is no display.
  if ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing libosmesa6 for offscreen VTK rendering"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6 >/dev/null
  else
    echo "[setup] libOSMesa not found and not root: offscreen VTK tests will be skipped"
  fi
}

cmd=${1:-demo}
[ $# -gt 0 ] && shift

case "$cmd" in
  setup)
    setup_python; setup_osmesa ;;
  test)
    setup_python; setup_dev; setup_osmesa
    echo "[lint] ruff check ."
    "$PY" -m ruff check .
    # one test process per core (at most 4; TEST_WORKERS=0 runs them in this process),
    # a test file's tests in one process so that its trained fixtures are made once
    workers=${TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}
    if [ "$workers" -gt 4 ]; then workers=4; fi
    if [ "$workers" -le 1 ]; then workers=0; fi
    if [ "${1:-}" = "--fast" ]; then
      shift
      exec "$PY" -m pytest -q -n "$workers" --dist loadfile --no-loadscope-reorder -m "not slow" "$@"
    fi
    exec "$PY" -m pytest -q -n "$workers" --dist loadfile --no-loadscope-reorder "$@" ;;
  demo)
    setup_python; setup_osmesa
    exec "$PY" apps/quickstart.py "$@" ;;
  *)
    echo "usage: bash run.sh [demo|test|setup] [args...]" >&2; exit 2 ;;
esac
