#!/usr/bin/env bash
# Real container/chroot test targets: dockerd, podman, a debootstrap base image, an sshd image.
#
# Usage: bash scripts/setup-docker.sh [STEP...]   (root, Debian 12; no systemd needed)
#   STEPS: packages dockerd rootfs base sshd podman   (default: all of them, in that order)
#
# Idempotent and cached: each step checks its result first and does nothing when it is
# already there. A warm run takes well under a second; a cold one ~1-2 minutes (apt,
# debootstrap ~25 s, the sshd image's apt-get ~20 s). Concurrent runs are serialised by
# a lock file, so tests may call this from several processes at once.
#
#   dockerd  started in the background if `docker info` fails: pid file
#            /var/run/pyinfra-dockerd.pid, log /var/log/pyinfra-dockerd.log. It is left
#            running on purpose (reused by later runs); stop it with
#            `kill $(cat /var/run/pyinfra-dockerd.pid)`.
#   rootfs   `debootstrap --variant=minbase bookworm` into $CACHE/bookworm-rootfs (also the
#            tree the chroot tests copy), tarred to $CACHE/bookworm-rootfs.tar.
#   base     `docker import` of that tarball: pyinfra-test-base:bookworm
#   sshd     FROM the base + openssh-server + sudo: pyinfra-test-sshd:bookworm
#   podman   the tarball imported into podman as pyinfra-test-base:bookworm, and the
#            podman API service on unix:///run/podman/podman.sock (pid file
#            /var/run/pyinfra-podman.pid, log /var/log/pyinfra-podman.log, left running),
#            with default ulimits from $CACHE/containers.conf (podman runs need them here).
#
# Environment: PYINFRA_TEST_CACHE (default /var/cache/pyinfra-test), PYINFRA_TEST_MIRROR
# (default: the Debian mirror of this machine's apt sources).
set -euo pipefail

CACHE=${PYINFRA_TEST_CACHE:-/var/cache/pyinfra-test}
ROOTFS=$CACHE/bookworm-rootfs
TARBALL=$CACHE/bookworm-rootfs.tar
BASE_IMAGE=pyinfra-test-base:bookworm
SSHD_IMAGE=pyinfra-test-sshd:bookworm
DOCKERD_PID=/var/run/pyinfra-dockerd.pid
DOCKERD_LOG=/var/log/pyinfra-dockerd.log
PODMAN_SOCK=/run/podman/podman.sock
PODMAN_PID=/var/run/pyinfra-podman.pid
PODMAN_LOG=/var/log/pyinfra-podman.log
CONTAINERS_CONF_FILE=$CACHE/containers.conf
PACKAGES=(docker.io podman debootstrap uidmap iptables fuse-overlayfs tini)

log() { printf '[setup-docker] %s\n' "$*" >&2; }
die() { printf '[setup-docker] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (dockerd, podman and debootstrap need it)"
mkdir -p "$CACHE"
exec 9>"$CACHE/setup.lock"
flock 9

mirror() {
  if [ -n "${PYINFRA_TEST_MIRROR:-}" ]; then echo "$PYINFRA_TEST_MIRROR"; return; fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list 2>/dev/null | grep -oE 'https?://[^ ]*/debian/?$' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

step_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

step_dockerd() {
  docker_ok && return 0
  command -v dockerd >/dev/null || die "dockerd is missing (apt-get install docker.io)"
  if [ -f "$DOCKERD_PID" ] && kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null; then
    log "dockerd (pid $(cat "$DOCKERD_PID")) runs but does not answer yet; waiting"
  else
    rm -f "$DOCKERD_PID"
    log "starting dockerd (log $DOCKERD_LOG)"
    setsid dockerd --pidfile "$DOCKERD_PID" >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  fi
  local i
  for i in $(seq 120); do
    docker_ok && return 0
    sleep 0.5
  done
  tail -n 5 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not come up within 60 s (see $DOCKERD_LOG)"
}

step_rootfs() {
  if [ ! -x "$ROOTFS/bin/sh" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
    local url
    url=$(mirror)
    log "debootstrap --variant=minbase bookworm from $url (~30 s)"
    rm -rf "$ROOTFS.tmp"
    debootstrap --variant=minbase bookworm "$ROOTFS.tmp" "$url" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 5 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (see $CACHE/debootstrap.log)"; }
    rm -rf "$ROOTFS"
    mv "$ROOTFS.tmp" "$ROOTFS"
    rm -f "$TARBALL"
  fi
  if [ ! -s "$TARBALL" ]; then
    log "packing $TARBALL"
    tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
  fi
}

step_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  step_rootfs
  log "docker import $BASE_IMAGE"
  docker import "$TARBALL" "$BASE_IMAGE" >/dev/null
}

step_sshd() {
  docker image inspect "$SSHD_IMAGE" >/dev/null 2>&1 && return 0
  step_base
  log "building $SSHD_IMAGE (apt-get install openssh-server sudo, ~30 s)"
  local ctx
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      openssh-server sudo >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \\
 && mkdir -p /run/sshd
CMD ["/bin/sh", "-c", "ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e"]
EOF
  DOCKER_BUILDKIT=0 docker build --network host -q -t "$SSHD_IMAGE" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "building $SSHD_IMAGE failed"; }
  rm -rf "$ctx"
}

podman_ok() {
  [ -S "$PODMAN_SOCK" ] && timeout 5 curl -fsS --unix-socket "$PODMAN_SOCK" \
    http://d/_ping >/dev/null 2>&1
}

step_podman() {
  command -v podman >/dev/null || die "podman is missing (apt-get install podman)"
  if [ ! -s "$CONTAINERS_CONF_FILE" ]; then
    cat >"$CONTAINERS_CONF_FILE" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
EOF
  fi
  export CONTAINERS_CONF=$CONTAINERS_CONF_FILE
  if ! podman image exists "$BASE_IMAGE" 2>/dev/null; then
    step_rootfs
    log "podman import $BASE_IMAGE"
    podman import "$TARBALL" "$BASE_IMAGE" >/dev/null 2>"$CACHE/podman-import.log" \
      || { cat "$CACHE/podman-import.log" >&2; die "podman import failed"; }
  fi
  podman_ok && return 0
  if [ -f "$PODMAN_PID" ] && kill -0 "$(cat "$PODMAN_PID")" 2>/dev/null; then
    kill "$(cat "$PODMAN_PID")" 2>/dev/null || true
    sleep 0.5
  fi
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  rm -f "$PODMAN_SOCK"
  log "starting podman system service on unix://$PODMAN_SOCK (log $PODMAN_LOG)"
  setsid podman system service --time=0 "unix://$PODMAN_SOCK" >>"$PODMAN_LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PODMAN_PID"
  local i
  for i in $(seq 60); do
    podman_ok && return 0
    sleep 0.5
  done
  die "the podman API service did not come up within 30 s (see $PODMAN_LOG)"
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(packages dockerd rootfs base sshd podman)
for s in "${steps[@]}"; do
  case "$s" in
    packages|dockerd|rootfs|base|sshd|podman) "step_$s" ;;
    *) die "unknown step $s (packages dockerd rootfs base sshd podman)" ;;
  esac
done
