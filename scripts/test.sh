#!/usr/bin/env bash
# Install every test prerequisite, then run lint, types and the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]   (run as root on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n=== %s\n' "$*"; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  mapfile -t PKGS < <(grep -v '^\s*#' scripts/apt-packages.txt | grep -v '^\s*$')
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
log "installing the package and test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]"

if [ -x scripts/setup-targets.sh ]; then
  log "preparing real test targets"
  bash scripts/setup-targets.sh
fi

log "ruff"
.venv/bin/ruff check src tests bench examples
log "shellcheck (the scripts connectors run on targets)"
shellcheck src/pyinfra/connectors/_runner/scripts/*.sh
log "mypy"
.venv/bin/mypy
log "pytest"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
