"""ssh_config integration of the SSH connector, against a real sshd: aliases, patterns,
Include, precedence of inventory data, ProxyCommand, ConnectTimeout, keepalive."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from pyinfra.api import Config
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.ssh.settings import resolve_settings
from tests.helpers.sshenv import KEY_USER, PASSWORD_USER, SSHEnv, make_ssh_env_fixture

env = make_ssh_env_fixture()

NO_AUTO = {"ssh_allow_agent": False, "ssh_look_for_keys": False}


def _block(env: SSHEnv, **extra: object) -> str:
    lines = {
        "HostName": "127.0.0.1",
        "Port": env.port,
        "User": KEY_USER,
        "IdentityFile": env.key,
        "UserKnownHostsFile": env.known_hosts,
        "StrictHostKeyChecking": "yes",
    }
    lines.update(extra)
    return "".join(f"  {key} {value}\n" for key, value in lines.items() if value is not None)


def _run(env: SSHEnv, name: str, config: Path, command: str = "id -un", **data: object) -> str:
    inventory, _ = env.inventory([(name, {"ssh_config_file": str(config), **NO_AUTO, **data})])
    host = inventory.get_host(name)
    host.connect(raise_exceptions=True)
    try:
        ok, out = host.run_shell_command(command)
        assert ok, out.output
        return str(out.stdout)
    finally:
        host.disconnect()


def test_alias_with_everything_from_ssh_config(env: SSHEnv, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host pyi-alias\n" + _block(env))
    assert _run(env, "pyi-alias", config) == KEY_USER


def test_patterns_negation_and_first_value_wins(env: SSHEnv, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host pyi-?? !pyi-no\n"
        + _block(env)
        + "Host pyi-no\n  HostName 127.0.0.1\n  Port 1\n"
        + "Host *\n  Port 2\n  User nobody\n"
    )
    assert _run(env, "pyi-ok", config) == KEY_USER
    with pytest.raises(ConnectError, match="pyi-no: connection to 127.0.0.1:1 refused"):
        _run(env, "pyi-no", config)


def test_include_globs_and_relative_paths(
    env: SSHEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh" / "conf.d").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (home / ".ssh" / "conf.d" / "10-pyi.conf").write_text("Host pyi-inc\n" + _block(env))
    (home / ".ssh" / "conf.d" / "20-loop.conf").write_text("Include conf.d/*.conf\n")
    config = tmp_path / "config"
    config.write_text("Include conf.d/*.conf\n")
    assert _run(env, "pyi-inc", config) == KEY_USER


def test_inventory_data_wins_over_ssh_config(env: SSHEnv, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host pyi-data\n" + _block(env, Port=1, User="nobody", IdentityFile="/nonexistent")
    )
    assert (
        _run(env, "pyi-data", config, ssh_port=env.port, ssh_user=KEY_USER, ssh_key=str(env.key))
        == KEY_USER
    )


def test_lookup_by_ssh_hostname_and_default_user(env: SSHEnv, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host pyi-real\n" + _block(env, User=PASSWORD_USER))
    assert _run(env, "anything", config, ssh_hostname="pyi-real") == PASSWORD_USER


def test_proxy_command_from_ssh_config(env: SSHEnv, tmp_path: Path) -> None:
    """ProxyCommand with OpenSSH's ssh -W, through the same sshd (a hop to itself)."""
    hop = (
        f"ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={env.known_hosts} -i {env.key} -p {env.port} "
        f"{KEY_USER}@127.0.0.1 -W %h:%p"
    )
    config = tmp_path / "config"
    config.write_text("Host pyi-proxied\n" + _block(env, ProxyCommand=hop))
    assert _run(env, "pyi-proxied", config, command="echo $SSH_CONNECTION").startswith("127.0.0.1 ")
    log = env.server.read_log()
    assert log.count(f"Accepted publickey for {KEY_USER}") >= 2


def test_connect_timeout_and_keepalive_from_ssh_config(env: SSHEnv, tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
    time.sleep(0.2)
    config = tmp_path / "config"
    config.write_text(
        f"Host pyi-slow\n  HostName 127.0.0.1\n  Port {server.getsockname()[1]}\n"
        "  ConnectTimeout 1\n"
        "Host pyi-alive\n" + _block(env, ServerAliveInterval=7, ServerAliveCountMax=2)
    )
    try:
        with pytest.raises(ConnectError, match=r"pyi-slow: .*timed out after 1 s"):
            _run(env, "pyi-slow", config)
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    inventory, _ = env.inventory([("pyi-alive", {"ssh_config_file": str(config), **NO_AUTO})])
    host = inventory.get_host("pyi-alive")
    host.connect(raise_exceptions=True)
    try:
        connector = host.connector
        assert isinstance(connector, SSHConnector)
        liveness = connector.connection.liveness
        assert liveness is not None
        assert (liveness.interval, liveness.count_max) == (7, 2)
    finally:
        host.disconnect()


def test_settings_from_ssh_config(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host pyi-s\n  ForwardAgent yes\n  IdentitiesOnly yes\n"
        f"  IdentityFile {tmp_path}/id\n  ProxyJump jumpy@bastion:2222,other\n"
    )
    (tmp_path / "id").write_text("x")
    settings = resolve_settings("pyi-s", {"ssh_config_file": str(config)}, 10)
    assert settings.forward_agent is True
    assert settings.key_filenames == (str(tmp_path / "id"),)
    assert settings.look_for_keys is False and settings.allow_agent is False
    assert [str(hop) for hop in settings.proxy_jump] == ["jumpy@bastion:2222", "other"]
    settings = resolve_settings(
        "pyi-s", {"ssh_config_file": str(config), "ssh_forward_agent": False}, 10
    )
    assert settings.forward_agent is False
    assert resolve_settings("pyi-s", {"ssh_config_file": str(config)}, 3).connect_timeout == 3
    assert isinstance(Config().CONNECT_TIMEOUT, int)
