#!/usr/bin/env bash
# Images for the system/service tests (issue 14), built from pyinfra-test-base:bookworm.
#
# Usage: bash scripts/setup-sys.sh [STEP...]   (root; dockerd and the base image from
#        scripts/setup-docker.sh)        STEPS: systemd rc   (default: both)
#
#   systemd  pyi-sys-systemd:bookworm: systemd as /sbin/init + dbus, cron, iptables,
#            openssh-server, sudo, procps, iproute2, net-tools, kmod, locales, tzdata.
#            Run it with `--cap-add SYS_ADMIN -v /sys/fs/cgroup:/sys/fs/cgroup:rw
#            --tmpfs /run --tmpfs /run/lock` and /sbin/init as the command (systemd as
#            PID 1), or with `sleep infinity` (a plain container: init.d scripts, service).
#            The entrypoint makes /proc/sys/net writable when the container has
#            CAP_SYS_ADMIN (net.* keys belong to the container's own network namespace;
#            every other key stays read-only) and replaces Docker's bind-mounted
#            /etc/hostname and /etc/hosts by plain files, then execs the command.
#   rc       pyi-sys-rc:bookworm: OpenRC and runit (not as PID 1: `openrc default` and
#            runsvdir are started by the tests inside a plain container), and BusyBox
#            with its applets in /bb (a container run with PATH=/bb has a BusyBox
#            userland).
#
# Idempotent: an image is rebuilt only when missing or when its recipe changed (the
# recipe's hash is stored in the image label pyi.sys.recipe). Cold: ~1 min per image.
set -euo pipefail

BASE_IMAGE=pyinfra-test-base:bookworm
SYSTEMD_IMAGE=pyi-sys-systemd:bookworm
RC_IMAGE=pyi-sys-rc:bookworm

log() { printf '[setup-sys] %s\n' "$*" >&2; }
die() { printf '[setup-sys] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (docker)"
here=$(cd "$(dirname "$0")" && pwd)
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  bash "$here/setup-docker.sh" packages dockerd base || die "setup-docker.sh failed"
fi

ENTRYPOINT_SCRIPT='#!/bin/sh
# net.* sysctl keys are per network namespace: make only them writable.
if mount --bind /proc/sys/net /proc/sys/net 2>/dev/null; then
  mount -o remount,bind,rw /proc/sys/net 2>/dev/null || umount /proc/sys/net
fi
# Docker bind-mounts /etc/hostname and /etc/hosts: tools that replace them atomically
# (hostnamectl, uploads) get EBUSY. Give the container its own copies instead.
for f in /etc/hostname /etc/hosts; do
  if cp "$f" "$f.pyi-sys" 2>/dev/null && umount "$f" 2>/dev/null; then
    cat "$f.pyi-sys" >"$f"
  fi
  rm -f "$f.pyi-sys"
done
exec "$@"
'

systemd_dockerfile() {
  cat <<EOF
FROM $BASE_IMAGE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      systemd systemd-sysv dbus dbus-user-session libpam-systemd cron iptables \\
      openssh-server sudo procps iproute2 net-tools kmod locales tzdata >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && systemctl mask getty@tty1.service console-getty.service systemd-firstboot.service \\
      systemd-sysctl.service >/dev/null 2>&1 \\
 && sed -i 's/^# *\\(en_US.UTF-8 UTF-8\\)/\\1/' /etc/locale.gen && locale-gen >/dev/null \\
 && mkdir -p /run/sshd
COPY pyi-sys-entry /usr/local/sbin/pyi-sys-entry
RUN chmod 755 /usr/local/sbin/pyi-sys-entry
ENTRYPOINT ["/usr/local/sbin/pyi-sys-entry"]
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
}

rc_dockerfile() {
  cat <<EOF
FROM $BASE_IMAGE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      openrc runit procps busybox-static >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && sed -i 's/^#\\?rc_sys=.*/rc_sys="docker"/' /etc/rc.conf \\
 && mkdir /bb && busybox --install -s /bb
CMD ["sleep", "infinity"]
EOF
}

build() {  # IMAGE DOCKERFILE-FUNCTION
  local image=$1 recipe want have ctx
  recipe=$("$2")
  want=$(printf '%s\n%s' "$recipe" "$ENTRYPOINT_SCRIPT" | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "pyi.sys.recipe" }}' "$image" 2>/dev/null || true)
  [ "$have" = "$want" ] && return 0
  log "building $image (~1 min)"
  ctx=$(mktemp -d /tmp/pyi-sys-build.XXXXXX)
  printf '%s\nLABEL pyi.sys.recipe=%s\n' "$recipe" "$want" >"$ctx/Dockerfile"
  printf '%s' "$ENTRYPOINT_SCRIPT" >"$ctx/pyi-sys-entry"
  if ! DOCKER_BUILDKIT=0 docker build --network host -q -t "$image" "$ctx" >"$ctx/log" 2>&1; then
    tail -n 5 "$ctx/log" >&2
    rm -rf "$ctx"
    die "building $image failed"
  fi
  rm -rf "$ctx"
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(systemd rc)
for s in "${steps[@]}"; do
  case "$s" in
    systemd) build "$SYSTEMD_IMAGE" systemd_dockerfile ;;
    rc) build "$RC_IMAGE" rc_dockerfile ;;
    *) die "unknown step $s (systemd rc)" ;;
  esac
done
