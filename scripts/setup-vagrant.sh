#!/usr/bin/env bash
# Real Vagrant test target: the Debian vagrant package (no VirtualBox: the docker
# provider is used with the local sshd image), dockerd and pyinfra-test-sshd:bookworm.
#
# Usage: bash scripts/setup-vagrant.sh   (root, Debian 12; idempotent, ~0.5 s when warm)
#
# The tests (tests/integration/inventory/test_vagrant_inventory.py) bring machines up themselves
# with `vagrant up --provider=docker` in a temporary project (no box, synced folder
# disabled, private VAGRANT_HOME, VAGRANT_CHECKPOINT_DISABLE=1) and destroy them after.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '[setup-vagrant] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "error: must run as root"; exit 1; }

if ! command -v vagrant >/dev/null; then
  log "installing vagrant (--no-install-recommends: no VirtualBox)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends vagrant >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends vagrant >/dev/null
  }
fi

# dockerd and the sshd image the machines run (shared with the docker tests).
bash ./setup-docker.sh packages dockerd sshd
