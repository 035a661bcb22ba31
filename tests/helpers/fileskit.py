"""Targets and servers for the files/git/ssh/gpg operation tests (real components).

* targets: ``local``; ``ssh`` (the contract sshd on 127.0.0.1, user ``pyicontract``);
  ``docker``: a container of ``pyi-files-tools:bookworm`` (git, rsync, curl, wget, gpg...)
  on the host network, so it reaches the servers below on 127.0.0.1. One container per
  test process, removed at exit. Images come from ``scripts/setup-files.sh``.
* ``http_server()``: a static HTTP server on 127.0.0.1, on a port of 42200-42299.
* ``git_ssh()``: a key authorized for ``pyicontract`` on the contract sshd, for git and
  ssh.* operations that connect from a target to that server.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.host import Host
from tests.contract.targets import ALL_CAPABILITIES, ContractTarget
from tests.helpers import engines
from tests.helpers.deploykit import DEPLOY_TARGETS

ROOT = Path(__file__).resolve().parents[2]
TOOLS_IMAGE = "pyi-files-tools:bookworm"
BUSYBOX_IMAGE = "pyi-files-busybox:1.35"
PORTS = range(42200, 42300)


def _fail_in_ci(reason: str | None) -> str | None:
    if reason and os.environ.get("CI") == "true":
        raise RuntimeError(reason)
    return reason


@functools.cache
def ensure_images() -> str | None:
    """``scripts/setup-files.sh`` once per process: a skip reason, or ``None``."""
    if os.geteuid() != 0:
        return "the files test images need root (docker)"
    reason = engines.ensure_sshd_image()
    if reason:
        return reason
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-files.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        return f"scripts/setup-files.sh failed: {' | '.join(tail)}"
    return None


def start_container(image: str, command: tuple[str, ...] = ("sleep", "infinity")) -> str:
    """A running container (``pyi-files-*``, on the host network) removed when the test
    process exits."""
    name = f"pyi-files-{uuid.uuid4().hex[:10]}"
    engines.run_container("docker", image, name=name, command=command, extra=("--network", "host"))
    atexit.register(engines.remove_container, "docker", name)
    return name


def _tools_docker() -> ContractTarget:
    target = ContractTarget("docker", "", capabilities=ALL_CAPABILITIES)
    target.unavailable = lambda: _fail_in_ci(ensure_images())

    def setup() -> None:
        target.inventory_name = f"@docker/{start_container(TOOLS_IMAGE)}"

    target.setup = setup
    return target


def _contract(target_id: str) -> list[ContractTarget]:
    return [t for t in DEPLOY_TARGETS if t.id == target_id]


TARGETS: list[ContractTarget] = [*_contract("local"), _tools_docker(), *_contract("ssh")]


def target_params(*ids: str) -> list[Any]:
    chosen = [t for t in TARGETS if not ids or t.id in ids]
    return [pytest.param(t, id=t.id) for t in chosen]


@contextlib.contextmanager
def connected(target: ContractTarget) -> Iterator[Host]:
    reason = target.unavailable()
    if reason:
        pytest.skip(f"{target.id}: {reason}")
    target.prepare()
    with target.host() as host:
        yield host


# HTTP --------------------------------------------------------------------------------------


@dataclass
class HTTPServer:
    root: Path
    port: int
    server: http.server.ThreadingHTTPServer

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


REQUESTS: list[tuple[str, dict[str, str]]] = []  # (path, headers) of every request


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def do_GET(self) -> None:
        REQUESTS.append((self.path, dict(self.headers.items())))
        super().do_GET()


def _bind(factory: Any) -> tuple[Any, int]:
    for port in PORTS:
        try:
            return factory(port), port
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free port in 42200-42299")


@functools.cache
def http_server() -> HTTPServer:
    """A static file server on 127.0.0.1 (one per test process, stopped at exit)."""
    root = Path(tempfile.mkdtemp(prefix="pyi-files-http-"))
    atexit.register(shutil.rmtree, root, True)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server, port = _bind(lambda p: http.server.ThreadingHTTPServer(("127.0.0.1", p), handler))
    thread = threading.Thread(target=server.serve_forever, name="pyi-files-http", daemon=True)
    thread.start()
    atexit.register(server.shutdown)
    return HTTPServer(root, port, server)


def refused_port() -> int:
    """A port of our range on which nothing listens (connections are refused)."""
    sock, port = _bind(lambda p: _bound_socket(p))
    sock.close()
    return int(port)


def _bound_socket(port: int) -> socket.socket:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


# SSH from a target to the contract sshd -------------------------------------------------


@dataclass
class SSHAccess:
    port: int
    user: str
    key: Path  # private key on this machine (copied to targets by the tests)
    public: str


@functools.cache
def ssh_access() -> SSHAccess | None:
    """A key authorized for the contract sshd's user, or ``None`` without that sshd."""
    from tests.contract import targets_ssh

    target = _contract("ssh")
    if not target or target[0].unavailable():
        return None
    target[0].prepare()
    from tests.helpers.sshd import generate_client_key

    folder = Path(tempfile.mkdtemp(prefix="pyi-files-sshkey-"))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, True)
    key = generate_client_key(folder, name="id_ed25519")
    server = targets_ssh._state["server"]
    server.authorize_key(targets_ssh.USER, key.with_name("id_ed25519.pub"))  # type: ignore[attr-defined]
    public = key.with_name("id_ed25519.pub").read_text().strip()
    return SSHAccess(int(str(targets_ssh._state["port"])), targets_ssh.USER, key, public)


def sh(host: Host, command: str, ok: bool = True) -> str:
    success, output = host.run_shell_command(command)
    if ok:
        assert success, f"{command!r} failed: {output.stderr}"
    return output.stdout


# The contract every idempotent operation meets ----------------------------------------


def changed(results: list[Any]) -> list[str]:
    return [m.name for m in results if m.changed]


def assert_idempotent(
    host: Host,
    deploy: Any,
    check: Any,
    snapshot_dir: str,
    extra_state: Any = None,
) -> None:
    """A dry run changes nothing and reports changes; the first run changes and passes
    ``check``; the second run reports no change and runs no command; a dry run after
    that reports nothing either. ``extra_state()`` adds what ``snapshot`` cannot see."""
    from tests.helpers.deploykit import run, snapshot

    def state() -> str:
        return snapshot(host, snapshot_dir) + (extra_state() if extra_state else "")

    before = state()
    dry = run(host, deploy, dry=True)
    assert dry and all(m.success for m in dry)
    assert changed(dry), "the dry run should report changes"
    assert all(not c.executed for m in dry for c in m.commands)
    assert state() == before, "the dry run changed the target"

    first = run(host, deploy)
    assert changed(first), "the first run should change something"
    check()
    after_first = state()

    second = run(host, deploy)
    assert changed(second) == [], f"the second run changed: {changed(second)}"
    assert [c.command for m in second for c in m.commands] == []
    assert state() == after_first

    assert changed(run(host, deploy, dry=True)) == []
