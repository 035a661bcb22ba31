"""A real MariaDB + PostgreSQL target for the database operation tests (no mocks).

:class:`DatabaseServer` runs one container of ``pyi-data-db:bookworm`` (built by
scripts/setup-data.sh: the sshd image + Debian's mariadb-server and postgresql) and
makes it reachable two ways:

* ``@docker/NAME``: commands run as root inside it (MariaDB's root through its socket,
  PostgreSQL through ``_sudo_user="postgres"``);
* ``@ssh`` to 127.0.0.1 on a port of 42300-42399 published to its sshd, as ``pyi``
  (NOPASSWD sudo), with a private key and strict host-key checking.

Both servers get an administrator account ``pyi_data_admin`` with :data:`ADMIN_PASSWORD`
(a password full of shell and SQL metacharacters), reachable over TCP on 127.0.0.1 in
the container. ``processes()`` lists the command lines of every process in the
container (to prove no password appears there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.helpers import dockerssh, engines

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT / "scripts" / "setup-data.sh"
IMAGE = "pyi-data-db:bookworm"
PORTS = range(42300, 42400)
ADMIN = "pyi_data_admin"
# Quotes, backslash, $, backtick, #, ;, spaces: everything a shell or an option file
# could misread. Unique enough to search for in process lists and logs.
ADMIN_PASSWORD = "pyi-S3cr3t \"q' \\b $HOME `id` #c; x=1"

# Run in the container as root, with the public key on stdin: user pyi for @ssh.
_SSH_USER_SETUP = r"""set -e
id -u pyi >/dev/null 2>&1 || useradd -m -s /bin/sh pyi
mkdir -p /home/pyi/.ssh
cat > /home/pyi/.ssh/authorized_keys
chown -R pyi: /home/pyi/.ssh
chmod 700 /home/pyi/.ssh
echo 'pyi ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/pyi
chmod 440 /etc/sudoers.d/pyi
"""

_ready: dict[str, str | None] = {}


def ensure_image() -> str | None:
    """Run scripts/setup-data.sh once per process; a skip reason or None."""
    if "image" in _ready:
        return _ready["image"]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "the database tests need root (dockerd)"
    else:
        reason = engines.ensure_sshd_image()
    if reason is None:
        result = subprocess.run(
            ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, check=False, timeout=900
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            reason = f"scripts/setup-data.sh failed: {' | '.join(tail)}"
    _ready["image"] = reason
    return reason


def free_port() -> int:
    """A free TCP port of 127.0.0.1 in this project's range for these tests."""
    start = os.getpid() % len(PORTS)
    for offset in range(len(PORTS)):
        port = PORTS[(start + offset) % len(PORTS)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 42300-42399")


_SETUP_SQL = f"""
CREATE USER IF NOT EXISTS '{ADMIN}'@'127.0.0.1' IDENTIFIED BY {{pw}};
CREATE USER IF NOT EXISTS '{ADMIN}'@'localhost' IDENTIFIED BY {{pw}};
GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'localhost' WITH GRANT OPTION;
"""


def _mysql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class DatabaseServer:
    """One running database container (start/stop it; ``data()`` for @ssh)."""

    def __init__(self) -> None:
        self.name = f"pyi-data-db-{uuid.uuid4().hex[:8]}"
        self.dir = Path(tempfile.mkdtemp(prefix="pyi-data-ssh-"))
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.port = 0

    def start(self) -> DatabaseServer:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)],
            check=True,
            capture_output=True,
        )
        for _ in range(5):
            self.port = free_port()
            result = engines.cli(
                "docker", "run", "-d", "--init", "--name", self.name,
                "-p", f"127.0.0.1:{self.port}:22", IMAGE, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                break
            engines.remove_container("docker", self.name)
            if "port is already allocated" not in result.stderr:
                raise RuntimeError(f"docker run {IMAGE}: {result.stderr.strip()}")
        subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c", _SSH_USER_SETUP],
            input=self.key.with_suffix(".pub").read_bytes(),
            check=True,
            capture_output=True,
        )
        self._wait_ready()
        pw = _mysql_literal(ADMIN_PASSWORD)
        self.exec("mysql", stdin=_SETUP_SQL.replace("{pw}", pw))
        pg_pw = "'" + ADMIN_PASSWORD.replace("'", "''") + "'"
        self.exec(
            "sudo", "-u", "postgres", "psql", "-q", "-v", "ON_ERROR_STOP=1",
            stdin=f"CREATE ROLE {ADMIN} SUPERUSER LOGIN PASSWORD {pg_pw};",
        )  # fmt: skip
        dockerssh.container_known_hosts(self.name, self.known_hosts, "127.0.0.1", self.port)
        dockerssh.wait_for_sshd("127.0.0.1", self.port)
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        check = (
            "mysqladmin ping >/dev/null 2>&1 && pg_isready -q"
            " && test -s /etc/ssh/ssh_host_ed25519_key.pub"
        )
        while True:
            result = engines.cli("docker", "exec", self.name, "sh", "-c", check, check=False)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                logs = engines.cli("docker", "logs", "--tail", "20", self.name, check=False)
                raise RuntimeError(f"{self.name}: databases not ready: {logs.stderr[-500:]}")
            time.sleep(0.3)

    def exec(self, *command: str, stdin: str | None = None, check: bool = True) -> str:
        """Run a command in the container as root; its stdout."""
        result = subprocess.run(
            ["docker", "exec", "-i", self.name, *command],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
        return result.stdout

    def mysql(self, sql: str) -> str:
        """Run SQL as MariaDB's root; tab-separated rows without a header."""
        return self.exec("mysql", "-B", "-N", stdin=sql)

    def psql(self, sql: str) -> str:
        """Run SQL as PostgreSQL's superuser; unaligned rows without a header."""
        return self.exec("sudo", "-u", "postgres", "psql", "-X", "-q", "-A", "-t", stdin=sql)

    def processes(self) -> list[str]:
        return engines.container_processes("docker", self.name)

    def docker_name(self) -> str:
        return f"@docker/{self.name}"

    def ssh_data(self) -> dict[str, Any]:
        return dockerssh.container_data(self.key, self.known_hosts, ssh_port=self.port)

    def stop(self) -> None:
        engines.remove_container("docker", self.name)
        for path in self.dir.iterdir():
            path.unlink()
        self.dir.rmdir()
