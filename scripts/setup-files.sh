#!/usr/bin/env bash
# Test targets for the files/git/ssh/gpg operations (tests/integration/operations/test_files_*.py).
#
# Usage: bash scripts/setup-files.sh   (root, Debian 12; idempotent, ~0.2 s when warm)
#
#   pyi-files-tools:bookworm   FROM pyinfra-test-sshd:bookworm + git, rsync, curl, wget,
#                              gnupg, unzip, xz/bzip2/zstd, openssh-client (~40 s cold)
#   pyi-files-busybox:1.35     a BusyBox-only userland: Debian's busybox-static binary
#                              with every applet linked, no coreutils (~5 s cold)
#
# On this machine: git, rsync, curl, wget, gnupg, unzip, zstd (scripts/apt-packages.txt).
set -euo pipefail
cd "$(dirname "$0")"

TOOLS_IMAGE=pyi-files-tools:bookworm
BUSYBOX_IMAGE=pyi-files-busybox:1.35
log() { printf '[setup-files] %s\n' "$*" >&2; }
die() { printf '[setup-files] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (docker)"

missing=()
for p in git rsync curl wget gpg unzip zstd ssh-keyscan; do
  command -v "$p" >/dev/null || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing git rsync curl wget gnupg unzip zstd openssh-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq git rsync curl wget gnupg unzip zstd openssh-client >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq git rsync curl wget gnupg unzip zstd openssh-client >/dev/null
  }
fi

bash ./setup-docker.sh packages dockerd sshd

if ! docker image inspect "$TOOLS_IMAGE" >/dev/null 2>&1; then
  log "building $TOOLS_IMAGE (apt-get install git rsync curl wget gnupg ..., ~40 s)"
  ctx=$(mktemp -d /tmp/pyi-files-build.XXXXXX)
  cat >"$ctx/Dockerfile" <<'EOF'
FROM pyinfra-test-sshd:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      git rsync curl wget gnupg unzip xz-utils bzip2 zstd openssh-client ca-certificates \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/*
EOF
  DOCKER_BUILDKIT=0 docker build --network host -q -t "$TOOLS_IMAGE" "$ctx" >/dev/null \
    || { rm -rf "$ctx"; die "building $TOOLS_IMAGE failed"; }
  rm -rf "$ctx"
fi

if ! docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
  log "building $BUSYBOX_IMAGE from Debian's busybox-static"
  work=$(mktemp -d /tmp/pyi-files-busybox.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq busybox-static >/dev/null) \
    || die "apt-get download busybox-static failed"
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/pkg"
  root=$work/root
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/usr/bin" "$root/sbin" \
    "$root/usr/sbin"
  chmod 1777 "$root/tmp"
  cp "$work/pkg/bin/busybox" "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import - "$BUSYBOX_IMAGE" >/dev/null \
    || die "docker import of $BUSYBOX_IMAGE failed"
fi
log "ready: $TOOLS_IMAGE $BUSYBOX_IMAGE"
