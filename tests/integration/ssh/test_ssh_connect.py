"""Connecting over SSH against a real sshd: every authentication method, connection
handling (one transport, TCP_NODELAY, keepalive, retries) and every connect error."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import AuthenticationError, ConnectError, ConnectorDataTypeError
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.ssh.connect import backoff_delay
from tests.helpers.hosts import MakeHost
from tests.helpers.sshd import SSHServer, free_port, generate_client_key
from tests.helpers.sshenv import KEY_USER, PASSWORD, PASSWORD_USER, SSHEnv, make_ssh_env_fixture

env = make_ssh_env_fixture()


def _whoami(host: object) -> str:
    ok, out = host.run_shell_command("id -un")  # type: ignore[attr-defined]
    assert ok, out.output
    return str(out.stdout)


def _one_line(exc: BaseException, host: str = "127.0.0.1") -> str:
    message = str(exc)
    assert "\n" not in message
    assert message.startswith(f"{host}: "), message
    return message


# -- inventory ------------------------------------------------------------------------------


def test_plain_names_use_ssh_and_default_hostname() -> None:
    inventory = Inventory((["web1.example.invalid", "@ssh/web2.example.invalid"], {}))
    State(inventory, Config())
    for name in ("web1.example.invalid", "web2.example.invalid"):
        host = inventory.get_host(name)
        assert host.connector_cls is SSHConnector
    assert list(SSHConnector.make_names_data("web3")) == [("web3", {}, [])]
    host = inventory.get_host("web1.example.invalid")
    settings = host.connector.settings()  # type: ignore[attr-defined]
    assert settings.hostname == "web1.example.invalid"
    assert settings.port == 22


def test_data_keys_are_typed_and_described(make_host: MakeHost) -> None:
    from pyinfra.connectors.ssh.settings import SSH_DATA_META, SSHConnectorData

    seed_keys = {
        "ssh_hostname", "ssh_port", "ssh_user", "ssh_password", "ssh_key", "ssh_key_password",
        "ssh_allow_agent", "ssh_look_for_keys", "ssh_forward_agent", "ssh_config_file",
        "ssh_known_hosts_file", "ssh_strict_host_key_checking", "ssh_paramiko_connect_kwargs",
        "ssh_connect_retries", "ssh_connect_retry_min_delay", "ssh_connect_retry_max_delay",
        "ssh_file_transfer_protocol",
        # ours: ServerAliveInterval / ServerAliveCountMax (dead-peer detection)
        "ssh_server_alive_interval", "ssh_server_alive_count_max",
    }  # fmt: skip
    assert set(SSHConnectorData.__annotations__) == seed_keys
    assert set(SSH_DATA_META) == seed_keys
    assert all(meta.description for meta in SSH_DATA_META.values())
    assert SSH_DATA_META["ssh_allow_agent"].default is True
    assert SSH_DATA_META["ssh_file_transfer_protocol"].default == "sftp"
    host = make_host("h", {"ssh_port": "22"})
    with pytest.raises(ConnectorDataTypeError, match="h: connector data ssh_port must be int"):
        host.connector  # noqa: B018


# -- authentication ---------------------------------------------------------------------------


def test_password_login(env: SSHEnv) -> None:
    with env.host(ssh_user=PASSWORD_USER, ssh_key=None, ssh_password=PASSWORD) as host:
        assert _whoami(host) == PASSWORD_USER
    assert f"Accepted password for {PASSWORD_USER}" in env.server.read_log()


@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_key_types(env: SSHEnv, tmp_path: Path, kind: str) -> None:
    key = generate_client_key(tmp_path, kind)
    env.server.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    with env.host(ssh_key=str(key)) as host:
        assert _whoami(host) == KEY_USER


def test_encrypted_key_with_passphrase(env: SSHEnv, tmp_path: Path) -> None:
    key = generate_client_key(tmp_path, "ed25519", passphrase="open sesame")
    env.server.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    with env.host(ssh_key=str(key), ssh_key_password="open sesame") as host:
        assert _whoami(host) == KEY_USER
    with pytest.raises(AuthenticationError) as info:
        with env.host(ssh_key=str(key)):
            pass
    assert "is encrypted: set ssh_key_password" in _one_line(info.value)
    with pytest.raises(AuthenticationError) as info:
        with env.host(ssh_key=str(key), ssh_key_password="wrong"):
            pass
    assert "wrong ssh_key_password" in _one_line(info.value)


def test_openssh_certificate_next_to_the_key(env: SSHEnv, tmp_path: Path) -> None:
    ca = generate_client_key(tmp_path, "ed25519", name="ca")
    key = generate_client_key(tmp_path, "ed25519", name="certified")
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "pyi-cert-id", "-n", KEY_USER, "-V", "+1h",
         str(key) + ".pub"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert Path(str(key) + "-cert.pub").exists()
    ca_pub = env.work / "ca.pub"
    shutil.copy(str(ca) + ".pub", ca_pub)
    ca_pub.chmod(0o644)
    with SSHServer(host_key_types=["ed25519"], extra_config=[f"TrustedUserCAKeys {ca_pub}"]) as srv:
        known = srv.write_known_hosts(env.work / "known_hosts_cert")
        with env.host(ssh_port=srv.port, ssh_known_hosts_file=str(known), ssh_key=str(key)) as h:
            assert _whoami(h) == KEY_USER
        log = srv.read_log()
    assert "pyi-cert-id" in log and "Accepted publickey" in log


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("ssh-agent is missing (apt-get install openssh-client)")
    folder = Path(f"/tmp/pyi-agent-{uuid.uuid4().hex[:8]}")
    folder.mkdir(mode=0o700)
    sock = str(folder / "agent.sock")
    out = subprocess.run(
        ["ssh-agent", "-s", "-a", sock], capture_output=True, text=True, check=True
    ).stdout
    pid = int(out.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        yield sock, pid
    finally:
        os.kill(pid, 15)
        shutil.rmtree(folder, ignore_errors=True)


def test_agent_auth_and_forwarding(
    env: SSHEnv, agent: tuple[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sock, _ = agent
    key = generate_client_key(tmp_path, "ed25519", name="agentkey")
    env.server.authorize_key(KEY_USER, key.with_name(key.name + ".pub"))
    subprocess.run(
        ["ssh-add", "-q", str(key)],
        env={**os.environ, "SSH_AUTH_SOCK": sock},
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSH_AUTH_SOCK", sock)
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(key)], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    with env.host(ssh_key=None, ssh_allow_agent=True) as host:
        assert _whoami(host) == KEY_USER
        ok, out = host.run_shell_command("ssh-add -l")
        assert not ok  # no forwarding unless asked for
    with env.host(ssh_key=None, ssh_allow_agent=True, ssh_forward_agent=True) as host:
        ok, out = host.run_shell_command("ssh-add -l")
        assert ok, out.output
        assert fingerprint in out.stdout
    with pytest.raises(AuthenticationError):
        with env.host(ssh_key=None, ssh_allow_agent=False):
            pass


def test_look_for_keys(env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(env.key, home / ".ssh" / "id_ed25519")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with env.host(ssh_key=None, ssh_look_for_keys=True) as host:
        assert _whoami(host) == KEY_USER
    with pytest.raises(AuthenticationError):
        with env.host(ssh_key=None, ssh_look_for_keys=False):
            pass


def test_paramiko_connect_kwargs_are_applied_last(env: SSHEnv) -> None:
    kwargs = {"username": PASSWORD_USER, "password": PASSWORD, "key_filename": None}
    with env.host(ssh_key=None, ssh_paramiko_connect_kwargs=kwargs) as host:
        assert _whoami(host) == PASSWORD_USER


# -- authentication errors (one line naming the host, never retried) ---------------------------


def _failed_auth_attempts(env: SSHEnv) -> int:
    log = env.server.read_log()
    return log.count("Failed password") + log.count("Connection closed by authenticating")


def test_wrong_password_is_not_retried(env: SSHEnv) -> None:
    before = env.server.read_log().count(f"Failed password for {PASSWORD_USER}")
    with pytest.raises(AuthenticationError) as info:
        with env.host(
            ssh_user=PASSWORD_USER,
            ssh_key=None,
            ssh_password="wrong",
            ssh_connect_retries=3,
            ssh_connect_retry_min_delay=0.01,
        ):
            pass  # fmt: skip
    message = _one_line(info.value)
    assert f"authentication failed for {PASSWORD_USER}@127.0.0.1:{env.port}" in message
    assert "password" in message
    time.sleep(0.3)
    assert env.server.read_log().count(f"Failed password for {PASSWORD_USER}") == before + 1


def test_wrong_key(env: SSHEnv, tmp_path: Path) -> None:
    stranger = generate_client_key(tmp_path, "ed25519", name="stranger")
    with pytest.raises(AuthenticationError) as info:
        with env.host(ssh_key=str(stranger)):
            pass
    assert f"key {stranger}" in _one_line(info.value)


def test_missing_key_file(env: SSHEnv, tmp_path: Path) -> None:
    with pytest.raises(ConnectError) as info:
        with env.host(ssh_key=str(tmp_path / "nope")):
            pass
    assert f"ssh_key {tmp_path / 'nope'} does not exist" in _one_line(info.value)


# -- network errors ---------------------------------------------------------------------------


def test_connection_refused(env: SSHEnv) -> None:
    port = free_port()
    with pytest.raises(ConnectError) as info:
        with env.host(ssh_port=port):
            pass
    assert f"connection to 127.0.0.1:{port} refused" in _one_line(info.value)


def test_unreachable_host_fails_within_connect_timeout(env: SSHEnv) -> None:
    """A listener whose accept queue is full drops new SYNs: the connect hangs like on an
    unreachable host, and must give up after CONNECT_TIMEOUT."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    try:
        started = time.monotonic()
        with pytest.raises(ConnectError) as info:
            with env.host(ssh_port=server.getsockname()[1], config=Config(CONNECT_TIMEOUT=2)):
                pass
        elapsed = time.monotonic() - started
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    assert "timed out after 2 s (CONNECT_TIMEOUT)" in _one_line(info.value)
    assert elapsed < 20  # generous: only proves it did not hang for the OS default (minutes)


def test_silent_server_fails_within_connect_timeout(env: SSHEnv) -> None:
    """TCP connects but no SSH banner ever comes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    try:
        with pytest.raises(ConnectError) as info:
            with env.host(ssh_port=server.getsockname()[1], config=Config(CONNECT_TIMEOUT=1)):
                pass
    finally:
        server.close()
    assert "SSH handshake with 127.0.0.1" in _one_line(info.value)


def test_unresolvable_name(env: SSHEnv, tmp_path: Path) -> None:
    """In a network namespace of its own with a resolver on 127.0.0.1 that does not answer
    (no DNS traffic leaves the machine), through the CLI."""
    name = f"pyi-dns-{uuid.uuid4().hex[:6]}"
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode:
        pytest.skip("cannot create network namespaces here")
    etc = Path("/etc/netns") / name
    try:
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        result = subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, "-m", "pyinfra", "-y",
             "pyi-no-such-host.invalid", "exec", "--", "true"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
    finally:
        shutil.rmtree(etc, ignore_errors=True)
        subprocess.run(["ip", "netns", "delete", name], check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "pyi-no-such-host.invalid: cannot resolve host name 'pyi-no-such-host.invalid'" in (
        output
    ), output
    assert "Traceback" not in output


def test_retries_network_errors_until_the_server_comes(env: SSHEnv) -> None:
    port = free_port()
    server = SSHServer(port=port, host_key_types=["ed25519"])
    timer = threading.Timer(1.0, server.start)
    timer.start()
    try:
        timer_known = env.work / "known_hosts_retry"
        with env.host(
            ssh_port=port, ssh_strict_host_key_checking="accept-new",
            ssh_known_hosts_file=str(timer_known), ssh_connect_retries=20,
            ssh_connect_retry_min_delay=0.2, ssh_connect_retry_max_delay=0.5, connect=False,
        ) as host:  # fmt: skip
            timer.join()
            server.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
            host.connect(raise_exceptions=True)
            assert _whoami(host) == KEY_USER
    finally:
        timer.join()
        server.stop()


def test_retries_give_up_with_the_last_error(env: SSHEnv) -> None:
    port = free_port()
    with pytest.raises(ConnectError) as info:
        with env.host(ssh_port=port, ssh_connect_retries=2, ssh_connect_retry_min_delay=0.01):
            pass
    message = _one_line(info.value)
    assert "refused" in message and "after 3 attempts" in message


def test_backoff_is_jittered_exponential_within_bounds() -> None:
    import random

    random.seed(7)
    for attempt in range(8):
        values = [backoff_delay(attempt, 0.1, 2.0) for _ in range(200)]
        ceiling = min(2.0, 0.1 * 2**attempt)
        assert all(0.1 <= v <= ceiling for v in values)
        if ceiling > 0.1:
            assert len(set(values)) > 100  # jittered
    assert backoff_delay(50, 0.5, 0.5) == 0.5


# -- the transport --------------------------------------------------------------------------


def test_one_transport_nodelay_keepalive_and_real_disconnect(env: SSHEnv) -> None:
    log_before = env.server.read_log().count(f"Accepted publickey for {KEY_USER}")
    with env.host() as host:
        connector = host.connector
        assert isinstance(connector, SSHConnector)
        transport = connector.transport
        for _ in range(20):
            assert host.run_shell_command("true")[0]
        assert host.put_file(__import__("io").BytesIO(b"x"), "/tmp/pyi-one-transport")
        assert connector.transport is transport
        sock: Any = transport.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        liveness = connector.connection.liveness  # the default keepalive: 15 s, 3 probes
        assert liveness is not None
        assert (liveness.interval, liveness.count_max) == (15, 3)
        peer_port = sock.getsockname()[1]
    os.unlink("/tmp/pyi-one-transport")
    assert not transport.is_active()
    assert env.server.read_log().count(f"Accepted publickey for {KEY_USER}") == log_before + 1
    # the server saw the connection end
    from tests.helpers.sshenv import wait_until

    def ended() -> bool:
        lines = [line for line in env.server.read_log().splitlines() if f"port {peer_port}" in line]
        return any(
            word in line
            for line in lines
            for word in ("Read error", "Disconnected", "Connection closed", "Received disconnect")
        )

    assert wait_until(ended)


def test_connection_lost_is_reported(env: SSHEnv) -> None:
    with SSHServer(host_key_types=["ed25519"]) as server:
        server.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
        known = server.write_known_hosts(env.work / "known_hosts_lost")
        with env.host(ssh_port=server.port, ssh_known_hosts_file=str(known)) as host:
            server.stop()
            time.sleep(0.3)
            with pytest.raises(ConnectError, match="127.0.0.1: the SSH connection is lost"):
                host.run_shell_command("true")


def test_paramiko_types_are_ours() -> None:
    assert issubclass(AuthenticationError, ConnectError)
    assert not issubclass(paramiko.SSHException, ConnectError)


def test_authentication_requests_do_not_wait_for_the_service_accept(
    env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 4252 section 5: the userauth request goes right behind the service request
    (one round trip per attempt, not two), and a second key needs no second service
    request. The rejected first key proves the server answered both attempts in order."""
    from paramiko.common import MSG_SERVICE_REQUEST, MSG_USERAUTH_REQUEST

    from pyinfra.connectors.ssh import authpipe

    _stranger_key_then_ours(env, tmp_path, monkeypatch)
    sent: list[tuple[int, bool]] = []  # (message type, sent by paramiko's reader thread)
    send: Any = getattr(authpipe.PipelinedTransport, "_send_message")  # noqa: B009

    def spy_send(self: Any, message: Any) -> None:
        kind = message.asbytes()[0]
        if kind in (MSG_SERVICE_REQUEST, MSG_USERAUTH_REQUEST):
            sent.append((kind, threading.current_thread() is self))
        send(self, message)

    monkeypatch.setattr(authpipe.PipelinedTransport, "_send_message", spy_send)
    with env.host(ssh_key=None, ssh_look_for_keys=True) as host:
        assert _whoami(host) == KEY_USER
    # paramiko alone sends each userauth request from its reader thread, when the
    # service accept arrives, and asks for the service again for the second key.
    assert [kind for kind, _ in sent] == [
        MSG_SERVICE_REQUEST,
        MSG_USERAUTH_REQUEST,
        MSG_USERAUTH_REQUEST,
    ], sent
    assert not any(by_reader for _, by_reader in sent), sent


def test_the_first_channel_is_opened_behind_the_authentication_request(env: SSHEnv) -> None:
    """The first command's channel open goes right behind the (first) authentication
    request: it is confirmed with the login, and the first command runs on it."""
    from pyinfra.connectors.ssh import SSHConnector

    with env.host() as host:
        connector = host.connector
        assert isinstance(connector, SSHConnector)
        connection = connector.connection
        spare = connection._spare
        transport: Any = connection.client.get_transport()
        assert spare is not None and spare is transport.early_spare
        assert spare.done.wait(5) and spare.channel is not None
        early = spare.channel
        assert _whoami(host) == KEY_USER
        assert early.closed  # the command ran on it


def test_a_refused_first_key_gives_the_early_channel_up_at_once(
    env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server rejects a channel open that followed a refused authentication
    request: the first command opens its own channel instead of waiting for that one
    (bound: well under the connect timeout)."""
    _stranger_key_then_ours(env, tmp_path, monkeypatch)
    with env.host(ssh_key=None, ssh_look_for_keys=True, ssh_connect_timeout=30) as host:
        connection = host.connector.connection  # type: ignore[attr-defined]
        transport: Any = connection.client.get_transport()
        assert transport.early_spare is None  # given up when the first key was refused
        started = time.monotonic()
        assert _whoami(host) == KEY_USER
        assert time.monotonic() - started < 5


def _stranger_key_then_ours(env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A home whose keys paramiko tries in order: an unknown one (refused), then ours."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    generate_client_key(home / ".ssh", "ecdsa", name="id_ecdsa")  # unknown: tried first
    shutil.copy(env.key, home / ".ssh" / "id_ed25519")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
