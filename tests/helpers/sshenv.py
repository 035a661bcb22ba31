"""A ready-to-use SSH test environment for the SSH connector's integration tests.

``make_ssh_env_fixture()`` gives a fixture (module scope by default) yielding an
:class:`SSHEnv`: a real sshd on 127.0.0.1 (``tests.helpers.sshd.SSHServer``), the test
users below, a client key authorised for them and a known_hosts file holding the
server's host keys. ``env.host(**data)`` builds a one-host inventory with strict host
key checking, no agent and no ~/.ssh keys unless the test says otherwise.

Users (created on first use, removed at the end):

* ``pyisshkey``: ``/bin/sh``, key login, NOPASSWD sudo;
* ``pyisshpass``: ``/bin/sh``, password :data:`PASSWORD`, sudo that asks for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from tests.helpers.sshd import (
    SSHServer,
    ensure_user,
    generate_client_key,
    require_root,
    require_sshd,
    require_sudo,
)

KEY_USER = "pyisshkey"
PASSWORD_USER = "pyisshpass"
PASSWORD = "p4ss word'\"$`!x"


class SSHEnv:
    def __init__(self, server: SSHServer, work: Path) -> None:
        self.server = server
        self.work = work
        self.key = generate_client_key(work, name="id_ed25519")
        self.known_hosts = server.write_known_hosts(work / "known_hosts")
        server.authorize_key(KEY_USER, self.key.with_name(self.key.name + ".pub"))
        server.authorize_key(PASSWORD_USER, self.key.with_name(self.key.name + ".pub"))

    @property
    def port(self) -> int:
        return self.server.port

    def data(self, **overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ssh_port": self.server.port,
            "ssh_user": KEY_USER,
            "ssh_key": str(self.key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    def inventory(
        self, hosts: list[tuple[str, dict[str, Any]]], config: Config | None = None
    ) -> tuple[Inventory, State]:
        inventory = Inventory((hosts, {}))
        state = State(inventory, config or Config())
        return inventory, state

    @contextlib.contextmanager
    def host(
        self,
        name: str = "127.0.0.1",
        config: Config | None = None,
        connect: bool = True,
        **data: Any,
    ) -> Iterator[Host]:
        inventory, _state = self.inventory([(name, self.data(**data))], config)
        host = inventory.get_host(name)
        if connect:
            host.connect(raise_exceptions=True)
        try:
            yield host
        finally:
            host.disconnect()

    def remote(self, command: str, user: str = KEY_USER) -> subprocess.CompletedProcess[str]:
        """Run a command on the target with OpenSSH (independent of the connector)."""
        return subprocess.run(
            [
                "ssh",
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                f"UserKnownHostsFile={self.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-i",
                str(self.key),
                "-p",
                str(self.port),
                f"{user}@127.0.0.1",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def pids_matching(text: str) -> list[int]:
    """PIDs on this machine whose command line contains ``text``."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if needle in cmdline:
                found.append(int(entry))
    return found


@contextlib.contextmanager
def ssh_env(**server_kwargs: Any) -> Iterator[SSHEnv]:
    require_sshd()
    require_root()
    require_sudo()
    ensure_user(KEY_USER, shell="/bin/sh", sudo="nopasswd")
    ensure_user(PASSWORD_USER, password=PASSWORD, shell="/bin/sh", sudo="password")
    work = Path(tempfile.mkdtemp(prefix="pyi-sshtest-", dir="/tmp"))
    work.chmod(0o755)
    try:
        with SSHServer(**server_kwargs) as server:
            yield SSHEnv(server, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_ssh_env_fixture(*, name: str = "env", scope: Any = "module", **server_kwargs: Any) -> Any:
    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[SSHEnv]:
        with ssh_env(**server_kwargs) as env:
            yield env

    return _fixture


@contextlib.contextmanager
def key_user_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory on the target (this machine) owned by the key user, removed
    afterwards (with whatever root-owned files a test put in it)."""
    import pwd
    import uuid

    path = Path(f"/tmp/{prefix}-{uuid.uuid4().hex[:10]}")
    path.mkdir(mode=0o755)
    user = pwd.getpwnam(KEY_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)
