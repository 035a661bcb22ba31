"""The package-manager test target: containers of ``pyi-pkg-target:bookworm``.

The image (scripts/setup-pkg.sh) holds real apt/dnf/rpm/zypper/pacman/pip/pipx/uv and
local repositories, and no network source. :class:`PkgContainer` starts one container,
adds user ``pyi`` (NOPASSWD sudo, plain ``/bin/sh``) authorised for a fresh key, and
publishes its sshd on a port of 127.0.0.1 in 42000-42099. It gives hosts for
``@docker/NAME`` (root) and for SSH as ``pyi`` (host key checked strictly).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from tests.helpers import engines

IMAGE = "pyi-pkg-target:bookworm"
SETUP = engines.ROOT / "scripts" / "setup-pkg.sh"
PORTS = range(42000, 42100)
USER = "pyi"

_SETUP_USER = r"""set -e
id -u pyi >/dev/null 2>&1 || useradd -m -s /bin/sh pyi
mkdir -p /home/pyi/.ssh
cat > /home/pyi/.ssh/authorized_keys
chown -R pyi: /home/pyi/.ssh
chmod 700 /home/pyi/.ssh
echo 'pyi ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/pyi
chmod 440 /etc/sudoers.d/pyi
"""

_lock = threading.Lock()
_image_reason: list[str | None] = []


def ensure_image() -> str | None:
    """Build the image once per process if needed; the skip reason or None."""
    with _lock:
        if _image_reason:
            return _image_reason[0]
        reason = engines.ensure_sshd_image()
        if reason is None:
            result = subprocess.run(
                ["bash", str(SETUP)], capture_output=True, text=True, timeout=1200, check=False
            )
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                reason = f"scripts/setup-pkg.sh failed: {' | '.join(tail)}"
        _image_reason.append(reason)
        return reason


def require_image() -> None:
    engines.require(ensure_image())


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 42000-42099")


class PkgContainer:
    """One running container of the package image, removed by :meth:`remove`."""

    def __init__(self) -> None:
        self.name = f"pyi-pkg-{uuid.uuid4().hex[:10]}"
        self.dir = Path(tempfile.mkdtemp(prefix="pyi-pkg-ssh-"))
        self.port = 0

    def start(self) -> PkgContainer:
        from tests.helpers.dockerssh import container_known_hosts, wait_for_sshd
        from tests.helpers.sshd import generate_client_key

        self.key = generate_client_key(self.dir)
        for _attempt in range(5):
            self.port = _free_port()
            result = engines.cli(
                "docker", "run", "-d", "--name", self.name,
                "-p", f"127.0.0.1:{self.port}:22", IMAGE, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                break
            engines.remove_container("docker", self.name)
        else:
            raise RuntimeError(f"could not start {self.name}: {result.stderr.strip()}")
        subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c", _SETUP_USER],
            input=self.key.with_name(self.key.name + ".pub").read_bytes(),
            check=True,
            capture_output=True,
        )
        wait_for_sshd("127.0.0.1", self.port)
        self.known_hosts = container_known_hosts(
            self.name, self.dir / "known_hosts", "127.0.0.1", self.port
        )
        return self

    def remove(self) -> None:
        engines.remove_container("docker", self.name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def exec(self, command: str, check: bool = True) -> str:
        """Run ``sh -c command`` in the container as root; its stdout."""
        result = engines.cli("docker", "exec", self.name, "sh", "-c", command, check=check)
        return result.stdout

    def ssh_data(self) -> dict[str, Any]:
        return {
            "ssh_port": self.port,
            "ssh_user": USER,
            "ssh_key": str(self.key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }

    @contextlib.contextmanager
    def host(self, kind: str) -> Iterator[Host]:
        """A connected host: ``docker`` (root inside) or ``ssh`` (user ``pyi``)."""
        if kind == "docker":
            name, data = f"@docker/{self.name}", {}
        else:
            name, data = "127.0.0.1", self.ssh_data()
        inventory = Inventory(([(name, data)], {}))
        state = State(inventory, Config())
        host = next(iter(inventory))
        host.connect(raise_exceptions=True)
        try:
            yield host
        finally:
            host.disconnect()
            del state


@contextlib.contextmanager
def pkg_container() -> Iterator[PkgContainer]:
    require_image()
    container = PkgContainer()
    try:
        yield container.start()
    finally:
        container.remove()


def in_ci() -> bool:
    return os.environ.get("CI") == "true"
