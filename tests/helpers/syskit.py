"""Containers for the system/service tests (issue 14): systemd as PID 1, a plain one,
OpenRC/runit/BusyBox, each reachable over ``@docker`` and (systemd) ``@ssh``.

Images come from scripts/setup-sys.sh (built once, cached). Every container is named
``pyi-sys-...`` and removed when its fixture ends; SSH ports are taken from 42100-42199.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from tests.helpers import engines

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD_IMAGE = "pyi-sys-systemd:bookworm"
RC_IMAGE = "pyi-sys-rc:bookworm"
SYSTEMD_FLAGS = (
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
)  # fmt: skip
PORTS = range(42100, 42200)

_images_ready: dict[str, str | None] = {}


def require_images() -> None:
    """Build the images once per process (skip, or fail under CI, if that fails)."""
    if "reason" not in _images_ready:
        reason = engines.ensure_base_image()
        if reason is None:
            result = subprocess.run(
                ["bash", str(ROOT / "scripts" / "setup-sys.sh")],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                tail = " | ".join(result.stderr.strip().splitlines()[-3:])
                reason = f"scripts/setup-sys.sh failed: {tail}"
        _images_ready["reason"] = reason
    engines.require(_images_ready["reason"])


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 42100-42199")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return engines.cli("docker", *args, check=check)


class Box:
    """One test container: run commands in it, connect to it as a pyinfra host."""

    def __init__(self, name: str, ssh_port: int | None = None) -> None:
        self.name = name
        self.ssh_port = ssh_port
        self.key_dir: Path | None = None

    def sh(self, script: str, check: bool = True) -> str:
        result = docker("exec", self.name, "sh", "-c", script, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{script!r} failed in {self.name}: {result.stderr.strip()}")
        return result.stdout

    def ok(self, script: str) -> bool:
        return docker("exec", self.name, "sh", "-c", script, check=False).returncode == 0

    def wait_systemd(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.sh("systemctl is-system-running 2>/dev/null || true", check=False).strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise AssertionError(f"systemd in {self.name} is {state!r} after {timeout} s")

    def enable_ssh(self) -> None:
        """Authorize a fresh key for root and record the container's host key."""
        assert self.ssh_port is not None
        self.key_dir = Path(tempfile.mkdtemp(prefix="pyi-sys-ssh-"))
        key = self.key_dir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        public = key.with_suffix(".pub").read_text().strip()
        self.sh(
            "mkdir -p /root/.ssh && chmod 700 /root/.ssh && "
            f"echo '{public}' >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys"
        )
        host_key = self.sh("cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
        (self.key_dir / "known_hosts").write_text(
            f"[127.0.0.1]:{self.ssh_port} {' '.join(host_key)}\n"
        )

    def ssh_data(self) -> dict[str, Any]:
        assert self.key_dir is not None and self.ssh_port is not None
        return {
            "ssh_port": self.ssh_port,
            "ssh_user": "root",
            "ssh_key": str(self.key_dir / "id_ed25519"),
            "ssh_known_hosts_file": str(self.key_dir / "known_hosts"),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }

    @contextlib.contextmanager
    def host(self, via: str = "docker") -> Iterator[Host]:
        """A connected host for this container over ``@docker`` or ``@ssh``."""
        if via == "ssh":
            entry: Any = ("127.0.0.1", self.ssh_data())
        else:
            entry = f"@docker/{self.name}"
        inventory = Inventory(([entry], {}))
        State(inventory, Config())
        host = next(iter(inventory))
        host.connect(raise_exceptions=True)
        try:
            yield host
        finally:
            host.disconnect()

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)
        if self.key_dir is not None:
            shutil.rmtree(self.key_dir, ignore_errors=True)


def start_box(
    image: str,
    command: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    ssh: bool = False,
    tag: str = "box",
) -> Box:
    require_images()
    name = f"pyi-sys-{tag}-{uuid.uuid4().hex[:8]}"
    port = free_port() if ssh else None
    publish = ("-p", f"127.0.0.1:{port}:22") if port else ()
    docker("run", "-d", "--name", name, *publish, *flags, image, *command)
    box = Box(name, port)
    return box


@contextlib.contextmanager
def systemd_box(ssh: bool = True, restart: str = "no") -> Iterator[Box]:
    """A container with systemd as PID 1 (and sshd when ``ssh``)."""
    box = start_box(
        SYSTEMD_IMAGE, flags=(*SYSTEMD_FLAGS, f"--restart={restart}"), ssh=ssh, tag="systemd"
    )
    try:
        box.wait_systemd()
        if ssh:
            box.enable_ssh()
        yield box
    finally:
        box.remove()


@contextlib.contextmanager
def plain_box(
    flags: tuple[str, ...] = ("--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN"),
) -> Iterator[Box]:
    """The systemd image without systemd running (``sleep infinity`` as PID 1): init.d
    scripts, ``service``, cron, iptables (NET_ADMIN), mounts (SYS_ADMIN)."""
    box = start_box(SYSTEMD_IMAGE, ("sleep", "infinity"), flags, tag="plain")
    try:
        yield box
    finally:
        box.remove()


def wait_until(predicate: Any, timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout} s")


def local_tmp(prefix: str = "pyi-sys-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp")))
