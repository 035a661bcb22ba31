#!/usr/bin/env bash
# Real targets of the database and docker operation tests (tests/integration/operations/test_data_*.py).
#
# Usage: bash scripts/setup-data.sh   (root, Debian 12; idempotent: ~1 s when warm)
#
#   * dockerd and pyinfra-test-sshd:bookworm (scripts/setup-docker.sh);
#   * docker-compose (Debian's compose v1) on this machine, for docker.compose;
#   * pyi-data-db:bookworm: the sshd image + Debian's mariadb-server and postgresql
#     (~1-2 minutes to build once). Its command /usr/local/sbin/pyi-data-start starts
#     sshd, MariaDB (socket /run/mysqld/mysqld.sock, 127.0.0.1:3306 inside the
#     container) and PostgreSQL 15 (127.0.0.1:5432 inside the container), then waits.
#     Both run with durability off (fsync/flush) to keep the tests fast.
#     The tests run one container of it per test module and remove it afterwards; no
#     port of this machine is used except the published sshd port (42300-42399).
set -euo pipefail
cd "$(dirname "$0")"

CACHE=${PYINFRA_TEST_CACHE:-/var/cache/pyinfra-test}
DB_IMAGE=pyi-data-db:bookworm
# Bumped when the image's recipe changes: an older image is rebuilt.
DB_IMAGE_VERSION=2
SSHD_IMAGE=pyinfra-test-sshd:bookworm

log() { printf '[setup-data] %s\n' "$*" >&2; }
die() { printf '[setup-data] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (dockerd, apt-get)"

bash ./setup-docker.sh packages dockerd sshd

mkdir -p "$CACHE"
exec 9>"$CACHE/setup-data.lock"
flock 9

if ! command -v docker-compose >/dev/null; then
  log "installing docker-compose"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  }
fi

have=$(docker image inspect -f '{{index .Config.Labels "pyi-data.version"}}' "$DB_IMAGE" 2>/dev/null || true)
if [ "$have" = "$DB_IMAGE_VERSION" ]; then
  exit 0
fi

old_id=$(docker image inspect -f '{{.Id}}' "$DB_IMAGE" 2>/dev/null || true)
log "building $DB_IMAGE (mariadb-server + postgresql, ~1-2 min)"
ctx=$(mktemp -d /tmp/pyi-data-build.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
cat >"$ctx/pyi-data-start" <<'EOF'
#!/bin/sh
# Start sshd, MariaDB and PostgreSQL, then wait (PID 1 is docker's init).
ssh-keygen -A >/dev/null
/usr/sbin/sshd -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
mysqld_safe --skip-syslog >/dev/null 2>&1 &
pg_ctlcluster 15 main start
exec sleep infinity
EOF
cat >"$ctx/Dockerfile" <<EOF
FROM $SSHD_IMAGE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      mariadb-server mariadb-client postgresql postgresql-client >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
COPY pyi-data-start /usr/local/sbin/pyi-data-start
# Test servers: durability traded for speed (CREATE/DROP DATABASE, commits).
RUN chmod 755 /usr/local/sbin/pyi-data-start \\
 && printf 'fsync = off\\nsynchronous_commit = off\\nfull_page_writes = off\\n' \\
      > /etc/postgresql/15/main/conf.d/pyi-data.conf \\
 && printf '[mysqld]\\ninnodb_flush_log_at_trx_commit = 0\\n' \\
      > /etc/mysql/mariadb.conf.d/99-pyi-data.cnf
LABEL pyi-data.version=$DB_IMAGE_VERSION
CMD ["/usr/local/sbin/pyi-data-start"]
EOF
DOCKER_BUILDKIT=0 docker build --network host -q -t "$DB_IMAGE" "$ctx" >/dev/null \
  || die "building $DB_IMAGE failed"
if [ -n "$old_id" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true  # the previous recipe's image
fi
log "built $DB_IMAGE"
