"""The real-sshd fixture works: key, passphrase, password, sudo and sftp logins with plain
paramiko, and host-key checking (``pyinfra.connectors.ssh.hostkeys``) against it."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from pyinfra.api.exceptions import HostKeyError
from pyinfra.connectors.ssh.hostkeys import HostKeyPolicy, fingerprint
from tests.helpers.sshd import (
    SSHServer,
    ensure_user,
    generate_client_key,
    make_sshd_fixture,
    remove_user,
    require_root,
    sudoers_path,
)

sshd = make_sshd_fixture(scope="module")

KEY_USER = "pyifixkey"
PASSWORD_USER = "pyifixpass"
SUDO_USER = "pyifixsudo"
PASSWORD = "S3cret pass:word!"


@pytest.fixture(scope="module")
def users() -> Iterator[None]:
    require_root()
    names = [KEY_USER, PASSWORD_USER, SUDO_USER]
    try:
        ensure_user(KEY_USER)
        ensure_user(PASSWORD_USER, password=PASSWORD, shell="/bin/bash")
        ensure_user(SUDO_USER, password=PASSWORD, sudo="password")
        yield
    finally:
        for name in names:
            remove_user(name)


@pytest.fixture(scope="module")
def client_key(sshd: SSHServer, users: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = generate_client_key(tmp_path_factory.mktemp("keys"))
    sshd.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    return key


def trusting_client(server: SSHServer, tmp_path: Path) -> paramiko.SSHClient:
    """A client that knows the server's host keys and refuses anything else."""
    known = server.write_known_hosts(tmp_path / "known_hosts")
    client = paramiko.SSHClient()
    client.load_system_host_keys(str(known))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def connect(client: paramiko.SSHClient, server: SSHServer, user: str, **kwargs: object) -> None:
    client.connect(
        server.address,
        server.port,
        username=user,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


def run(client: paramiko.SSHClient, command: str, stdin: str = "") -> tuple[int, str, str]:
    channel_in, out, err = client.exec_command(command, timeout=20)
    if stdin:
        channel_in.write(stdin)
    channel_in.channel.shutdown_write()
    stdout, stderr = out.read().decode(), err.read().decode()
    return out.channel.recv_exit_status(), stdout, stderr


# -- the server itself --------------------------------------------------------------------


def test_server_listens_on_loopback(sshd: SSHServer) -> None:
    assert sshd.running
    assert sshd.address == "127.0.0.1"
    with socket.create_connection((sshd.address, sshd.port), timeout=5) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
    assert "Server listening on 127.0.0.1 port" in sshd.read_log()
    assert sshd.pid_path.read_text().strip() == str(sshd.pid)
    config = sshd.config_path.read_text()
    for line in (
        "StrictModes no",
        f"AuthorizedKeysFile {sshd.authorized_keys_dir}/%u",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "PasswordAuthentication yes",
        "PermitRootLogin yes",
        "UsePAM yes",
        "LogLevel VERBOSE",
    ):
        assert line in config


def test_key_login(sshd: SSHServer, client_key: Path, tmp_path: Path) -> None:
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, KEY_USER, key_filename=str(client_key))
        status, out, _ = run(client, "id -un; echo $HOME")
        assert status == 0
        assert out.split() == [KEY_USER, f"/home/{KEY_USER}"]
    finally:
        client.close()
    assert f"Accepted publickey for {KEY_USER}" in sshd.read_log()


def test_key_user_has_no_password(sshd: SSHServer, client_key: Path, tmp_path: Path) -> None:
    client = trusting_client(sshd, tmp_path)
    with pytest.raises(paramiko.AuthenticationException):
        connect(client, sshd, KEY_USER, password="")
    client.close()


@pytest.mark.parametrize(("kind", "pem"), [("ecdsa", False), ("rsa", False), ("rsa", True)])
def test_other_key_kinds(
    sshd: SSHServer, users: None, tmp_path: Path, kind: str, pem: bool
) -> None:
    key = generate_client_key(tmp_path, kind, pem=pem)
    assert key.read_text().startswith(
        "-----BEGIN RSA PRIVATE KEY" if pem else "-----BEGIN OPENSSH PRIVATE KEY"
    )
    sshd.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, KEY_USER, key_filename=str(key))
        assert run(client, "id -un")[1].strip() == KEY_USER
    finally:
        client.close()


def test_passphrase_key(sshd: SSHServer, users: None, tmp_path: Path) -> None:
    key = generate_client_key(tmp_path, passphrase="open sesame")
    sshd.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    with pytest.raises(paramiko.PasswordRequiredException):
        paramiko.Ed25519Key.from_private_key_file(str(key))
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, KEY_USER, key_filename=str(key), passphrase="open sesame")
        assert run(client, "id -un")[1].strip() == KEY_USER
    finally:
        client.close()


def test_password_login(sshd: SSHServer, users: None, tmp_path: Path) -> None:
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, PASSWORD_USER, password=PASSWORD)
        status, out, _ = run(client, "id -un; echo $0")
        assert status == 0
        assert out.split() == [PASSWORD_USER, "bash"]
    finally:
        client.close()


def test_wrong_password_is_refused(sshd: SSHServer, users: None, tmp_path: Path) -> None:
    client = trusting_client(sshd, tmp_path)
    with pytest.raises(paramiko.AuthenticationException):
        connect(client, sshd, PASSWORD_USER, password="wrong")
    client.close()


def test_sftp(sshd: SSHServer, client_key: Path, tmp_path: Path) -> None:
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, KEY_USER, key_filename=str(client_key))
        local = tmp_path / "upload.bin"
        local.write_bytes(os.urandom(100_000))
        with client.open_sftp() as sftp:
            sftp.put(str(local), "upload.bin")
            assert sftp.stat("upload.bin").st_size == 100_000
            sftp.get("upload.bin", str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
        assert run(client, "stat -c %U upload.bin")[1].strip() == KEY_USER
    finally:
        client.close()


def test_sudo_with_password(sshd: SSHServer, users: None, tmp_path: Path) -> None:
    assert sudoers_path(SUDO_USER).stat().st_mode & 0o777 == 0o440
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, SUDO_USER, password=PASSWORD)
        assert run(client, "sudo -n id -u")[0] != 0  # a password is required
        status, out, err = run(client, "sudo -S -p '' id -u", stdin=PASSWORD + "\n")
        assert (status, out.strip()) == (0, "0"), err
    finally:
        client.close()


def test_sudo_nopasswd_and_removal(sshd: SSHServer, users: None, tmp_path: Path) -> None:
    ensure_user(SUDO_USER, password=PASSWORD, sudo="nopasswd")
    client = trusting_client(sshd, tmp_path)
    try:
        connect(client, sshd, SUDO_USER, password=PASSWORD)
        assert run(client, "sudo -n id -u")[:2] == (0, "0\n")
        ensure_user(SUDO_USER, password=PASSWORD, sudo=None)
        assert not sudoers_path(SUDO_USER).exists()
        assert run(client, "sudo -n id -u")[0] != 0
    finally:
        ensure_user(SUDO_USER, password=PASSWORD, sudo="password")
        client.close()


def test_user_names_need_prefix() -> None:
    with pytest.raises(ValueError, match="pyi"):
        ensure_user("root")
    with pytest.raises(ValueError):
        ensure_user("pyi.dot")


# -- separate servers ---------------------------------------------------------------------


def test_no_sftp_and_stop_ends_sessions(users: None, tmp_path: Path) -> None:
    server = SSHServer(sftp=False, host_key_types=["ed25519"])
    server.start()
    work_dir = server.work_dir
    key = generate_client_key(tmp_path)
    server.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    client = trusting_client(server, tmp_path)
    try:
        connect(client, server, KEY_USER, key_filename=str(key))
        with pytest.raises(paramiko.SSHException):
            client.open_sftp()
        marker = f"pyi-{uuid.uuid4().hex}"
        client.exec_command(f"exec sh -c 'sleep 300; echo {marker}'")
        deadline = time.monotonic() + 5
        while not _pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pids_with(marker)
        server.stop()
        assert not server.running
        deadline = time.monotonic() + 5
        while _pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pids_with(marker)
        assert not work_dir.exists()
        with pytest.raises(OSError):
            socket.create_connection((server.address, server.port), timeout=2).close()
    finally:
        client.close()
        server.stop()


def _pids_with(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_in_network_namespace(tmp_path: Path) -> None:
    require_root()
    namespace = f"pyi-ns-{uuid.uuid4().hex[:8]}"
    if subprocess.run(["ip", "netns", "add", namespace], capture_output=True).returncode:
        pytest.skip("cannot create network namespaces here")
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        with SSHServer(netns=namespace, port=22, host_key_types=["ed25519"]) as server:
            scan = subprocess.run(
                ["ip", "netns", "exec", namespace, "ssh-keyscan", "-t", "ed25519", "127.0.0.1"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            assert server.host_public_key("ed25519") in scan.stdout
            assert server.known_hosts_name == "127.0.0.1"
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


# -- host-key checking against the real server --------------------------------------------


def test_host_key_policy_against_real_server(
    sshd: SSHServer, client_key: Path, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"

    def attempt(policy: str) -> None:
        checker = HostKeyPolicy(policy, [str(known)], global_known_hosts_files=[])
        client = paramiko.SSHClient()
        checker.attach(client, sshd.address, sshd.port)
        try:
            connect(client, sshd, KEY_USER, key_filename=str(client_key))
        except paramiko.BadHostKeyException as exc:
            raise checker.changed_key_error(exc, sshd.port) from None
        finally:
            client.close()

    with pytest.raises(HostKeyError, match="is unknown"):
        attempt("yes")
    assert not known.exists()

    attempt("accept-new")  # learns the key...
    lines = known.read_text().splitlines()
    assert len(lines) == 1
    name, key_type, blob = lines[0].split()
    assert name == f"[127.0.0.1]:{sshd.port}"
    assert f"{key_type} {blob}" in sshd.known_hosts_lines()
    attempt("yes")  # ...and then knows it

    # Only an RSA key known: paramiko negotiates RSA, so this is not a "changed" key.
    sshd.write_known_hosts(known, ["rsa"])
    attempt("yes")

    # A different key of the same type: always refused, with both fingerprints.
    impostor = paramiko.ECDSAKey.generate()
    known.write_text(
        "# header\n" + f"[127.0.0.1]:{sshd.port} {impostor.get_name()} {impostor.get_base64()}\n"
    )
    real = paramiko.ECDSAKey(data=_blob(sshd.host_public_key("ecdsa")))
    for policy in ("no", "accept-new", "yes"):
        with pytest.raises(HostKeyError) as info:
            attempt(policy)
        message = str(info.value)
        assert "CHANGED" in message
        assert fingerprint(impostor) in message
        assert fingerprint(real) in message
        assert f"{known} line 2" in message
    assert known.read_text().count("\n") == 2  # never rewritten


def _blob(public_key: str) -> bytes:
    return base64.b64decode(public_key.split()[1])


def test_start_failure_is_reported_and_cleaned_up() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = SSHServer(port=busy.getsockname()[1], host_key_types=["ed25519"])
        with pytest.raises(RuntimeError, match="sshd did not start: .*Address already in use"):
            server.start()
    assert not server.running
    assert not server.work_dir.exists()
