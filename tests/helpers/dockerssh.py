"""Real targets for the ``@dockerssh`` connector (no mocks).

* :class:`DockerHostSSH`: this machine as a "remote Docker host": a real sshd on
  127.0.0.1 (:class:`~tests.helpers.sshd.SSHServer`) with ``pyidockerssh``, a user with a
  plain ``/bin/sh`` in the ``docker`` group (so it runs ``docker`` against the local
  dockerd), ``pyidockernone``, a user who may not use docker, and ``pyipodmanssh``, who
  runs the local (root) podman through ``sudo -n`` (:data:`PODMAN_COMMAND`). Keys and a
  strict known_hosts file live in a private directory.
* :func:`sshd_container`: a container of the sshd image (``ensure_sshd_image()``) with a
  user ``pyi`` (NOPASSWD sudo) authorised for a key, optionally publishing port 22 on
  127.0.0.1; :func:`container_known_hosts` writes its host key for strict checking.

Everything needs root, sshd and dockerd; :func:`unavailable` gives the skip reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.helpers import engines

DOCKER_USER = "pyidockerssh"
NO_DOCKER_USER = "pyidockernone"
PODMAN_USER = "pyipodmanssh"
# The podman CLI as PODMAN_USER runs it on this machine: root's podman, with the test
# setup's containers.conf (ulimits podman needs here), quiet about this machine's
# cgroup warnings (they would mix into every command's stderr).
PODMAN_COMMAND = (
    f"sudo -n env CONTAINERS_CONF={engines.CONTAINERS_CONF} podman --log-level=error"
)
CONTAINER_USER = "pyi"

_CONTAINER_SETUP = r"""set -e
id -u pyi >/dev/null 2>&1 || useradd -m -s /bin/sh pyi
mkdir -p /home/pyi/.ssh
cat > /home/pyi/.ssh/authorized_keys
chown -R pyi: /home/pyi/.ssh
chmod 700 /home/pyi/.ssh
echo 'pyi ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/pyi
chmod 440 /etc/sudoers.d/pyi
"""


def unavailable() -> str | None:
    """Why the @dockerssh targets cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "the @dockerssh targets need root (test users, dockerd)"
    if not os.access("/usr/sbin/sshd", os.X_OK):
        return "/usr/sbin/sshd is missing (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is missing (apt-get install openssh-client)"
    return engines.ensure_sshd_image()


class DockerHostSSH:
    """This machine over a real sshd, as the Docker host of @dockerssh/HOST:CONTAINER."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pyi-dockerssh-"))
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.server: Any = None

    def start(self) -> DockerHostSSH:
        from tests.helpers.sshd import SSHServer, ensure_user, generate_client_key

        ensure_user(DOCKER_USER, shell="/bin/sh")
        subprocess.run(["usermod", "-aG", "docker", DOCKER_USER], check=True)
        ensure_user(NO_DOCKER_USER, shell="/bin/sh")
        ensure_user(PODMAN_USER, shell="/bin/sh", sudo="nopasswd")
        generate_client_key(self.dir, name=self.key.name)
        self.server = SSHServer(host_key_types=["ed25519"])
        self.server.start()
        pub = self.key.with_name(self.key.name + ".pub")
        self.server.authorize_key(DOCKER_USER, pub)
        self.server.authorize_key(NO_DOCKER_USER, pub)
        self.server.authorize_key(PODMAN_USER, pub)
        self.server.write_known_hosts(self.known_hosts)
        return self

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def data(self, user: str = DOCKER_USER) -> dict[str, Any]:
        """Inventory data that reaches this sshd as ``user`` (strict host key check)."""
        assert self.server is not None
        return {
            "ssh_port": self.server.port,
            "ssh_user": user,
            "ssh_key": str(self.key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }


def sshd_container(public_key: Path, publish: str | None = None) -> str:
    """Start a container of the sshd image with user ``pyi`` authorised for the key;
    ``publish``: a ``docker run -p`` value (``127.0.0.1::22``: port 22 on a free port of
    127.0.0.1). Returns its name."""
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    extra = ("-p", publish) if publish else ()
    engines.run_container("docker", engines.SSHD_IMAGE, name=name, command=(), extra=extra)
    try:
        subprocess.run(
            ["docker", "exec", "-i", name, "sh", "-c", _CONTAINER_SETUP],
            input=public_key.read_bytes(),
            check=True,
            capture_output=True,
        )
        host_key(name)  # waits until sshd has its keys
    except BaseException:
        engines.remove_container("docker", name)
        raise
    return name


def host_key(name: str, timeout: float = 30.0) -> str:
    """``TYPE BASE64`` of the container sshd's ed25519 host key (waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        result = engines.cli(
            "docker", "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub", check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            kind, blob = result.stdout.split()[:2]
            return f"{kind} {blob}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"container {name} has no sshd host key: {result.stderr.strip()}")
        time.sleep(0.2)


def container_ip(name: str) -> str:
    return engines.cli(
        "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
    ).stdout.strip()


def published_port(name: str) -> int:
    out = engines.cli("docker", "port", name, "22/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def wait_for_sshd(host: str, port: int, timeout: float = 30.0) -> None:
    """Wait until something answers with an SSH banner on host:port."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.settimeout(2)
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no sshd answers on {host}:{port}")
        time.sleep(0.2)


def container_known_hosts(name: str, path: Path, address: str, port: int = 22) -> Path:
    """Write the container's host key to ``path`` for ``address:port``."""
    label = address if port == 22 else f"[{address}]:{port}"
    path.write_text(f"{label} {host_key(name)}\n")
    return path


def container_data(key: Path, known_hosts: Path, **extra: Any) -> dict[str, Any]:
    return {
        "ssh_user": CONTAINER_USER,
        "ssh_key": str(key),
        "ssh_known_hosts_file": str(known_hosts),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
        **extra,
    }
