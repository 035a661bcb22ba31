"""ssh.keyscan / command / upload / download from a target to another server (the test
sshd on this machine, user ``pyicontract``), with the target's own ssh and a key.

On @local the operations run as that user (``_sudo_user``), so root's own ~/.ssh on
this machine is never touched; in the container they run as root; over @ssh as the
contract user."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.host import Host
from pyinfra.operations import ssh
from tests.contract.targets import ContractTarget
from tests.helpers.deploykit import remote_dir, run
from tests.helpers.fileskit import (
    SSHAccess,
    assert_idempotent,
    changed,
    connected,
    sh,
    ssh_access,
    target_params,
)


@pytest.fixture(scope="module", params=target_params())
def ssh_host(request: pytest.FixtureRequest) -> Iterator[tuple[Host, dict[str, Any]]]:
    target: ContractTarget = request.param
    access = ssh_access()
    if access is None:
        pytest.skip("the test sshd is not available")
    with connected(target) as host:
        as_user: dict[str, Any] = {}
        if target.id == "local":
            as_user = {"_sudo": True, "_sudo_user": access.user}
        home = sh(host, "echo $HOME").strip() if not as_user else _home_of(host, access.user)
        key_dir = f"{home}/.ssh"
        _install_key(host, access, key_dir, as_user)
        try:
            yield host, as_user
        finally:
            host.run_shell_command(f"rm -f {key_dir}/id_ed25519 {key_dir}/known_hosts", **as_user)


def _home_of(host: Host, user: str) -> str:
    return sh(host, f"getent passwd {user} | cut -d: -f6").strip()


def _install_key(host: Host, access: SSHAccess, key_dir: str, as_user: dict[str, Any]) -> None:
    with remote_dir(host) as staging:
        host.put_file(str(access.key), f"{staging}/key")
        sh(host, f"chmod 755 {staging} && chmod 644 {staging}/key")
        ok, out = host.run_shell_command(
            f"mkdir -p {key_dir} && chmod 700 {key_dir} && cp {staging}/key {key_dir}/id_ed25519 "
            f"&& chmod 600 {key_dir}/id_ed25519 && rm -f {key_dir}/known_hosts",
            **as_user,
        )
        assert ok, out.stderr


@pytest.fixture
def other_server() -> Iterator[Path]:
    """A directory on the 'other server' (this machine, over the test sshd)."""
    access = ssh_access()
    assert access is not None
    folder = Path(tempfile.mkdtemp(prefix="pyi-files-sshops-"))
    folder.chmod(0o755)
    (folder / "served.txt").write_text("from the other server\n")
    shutil.chown(folder, access.user)
    shutil.chown(folder / "served.txt", access.user)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_keyscan_upload_download(ssh_host: tuple[Host, dict[str, Any]], other_server: Path) -> None:
    host, as_user = ssh_host
    access = ssh_access()
    assert access is not None
    with remote_dir(host) as base:
        sh(host, f"chmod 777 {base} && echo 'to upload' > {base}/up.txt && chmod 644 {base}/up.txt")
        where = {"hostname": "127.0.0.1", "port": access.port, "user": access.user}

        def deploy() -> None:
            ssh.keyscan(hostname="127.0.0.1", port=access.port, **as_user)
            ssh.upload(filename=f"{base}/up.txt", remote_filename=str(other_server / "up.txt"),
                       **where, **as_user)  # fmt: skip
            ssh.download(filename=str(other_server / "served.txt"),
                         local_filename=f"{base}/down.txt", **where, **as_user)  # fmt: skip

        def check() -> None:
            assert (other_server / "up.txt").read_text() == "to upload\n"
            assert sh(host, f"cat {base}/down.txt").strip() == "from the other server"

        assert_idempotent(host, deploy, check, base)

        marker = other_server / f"ran-{uuid.uuid4().hex[:6]}"
        results = run(host, lambda: ssh.command(command=f"touch {marker}", **where, **as_user))
        assert changed(results) and marker.exists()

        # an unknown host key is refused (BatchMode), in one line
        bad = run(
            host,
            lambda: ssh.command(
                hostname="localhost", port=access.port, user=access.user, command="true", **as_user
            ),  # fmt: skip
            expect_success=False,
        )
        error = bad[0].error or ""
        assert "Host key verification failed" in error and "\n" not in error
