"""Host-key policies of the SSH connector against a real sshd."""

from __future__ import annotations

import logging
from base64 import b64decode
from pathlib import Path
from typing import Any

import paramiko
import pytest

from pyinfra.api.exceptions import HostKeyError
from pyinfra.connectors.ssh.hostkeys import fingerprint
from tests.helpers.sshd import generate_client_key
from tests.helpers.sshenv import KEY_USER, SSHEnv, make_ssh_env_fixture

env = make_ssh_env_fixture()


def _connect(env: SSHEnv, **data: Any) -> None:
    with env.host(**data) as host:
        ok, out = host.run_shell_command("id -un")
        assert ok and out.stdout == KEY_USER


def test_yes_refuses_unknown_hosts(env: SSHEnv, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with pytest.raises(HostKeyError) as info:
        _connect(env, ssh_known_hosts_file=str(known), ssh_strict_host_key_checking="yes")
    message = str(info.value)
    assert "\n" not in message and message.startswith("127.0.0.1: ")
    assert "is unknown" in message and "ssh-keyscan" in message
    assert not known.exists()


def test_accept_new_appends_then_knows(env: SSHEnv, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    _connect(env, ssh_known_hosts_file=str(known), ssh_strict_host_key_checking="accept-new")
    lines = known.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[127.0.0.1]:{env.port} ")
    assert known.stat().st_mode & 0o777 == 0o600
    _connect(env, ssh_known_hosts_file=str(known), ssh_strict_host_key_checking="yes")
    assert known.read_text().splitlines() == lines


def test_default_policy_is_accept_new(env: SSHEnv, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with env.host(connect=False, ssh_known_hosts_file=str(known)) as host:
        data = dict(host.data.dict())
    data.pop("ssh_strict_host_key_checking")
    inventory, _state = env.inventory([("127.0.0.1", data)])
    host = inventory.get_host("127.0.0.1")
    host.connect(raise_exceptions=True)
    host.disconnect()
    assert known.read_text().count("\n") == 1


@pytest.mark.parametrize("policy", ["yes", "accept-new", "no", "off"])
def test_changed_key_always_fails(env: SSHEnv, tmp_path: Path, policy: str) -> None:
    impostor = generate_client_key(tmp_path, "ed25519", name="impostor")
    impostor_line = " ".join(Path(str(impostor) + ".pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    content = f"# mine\n[127.0.0.1]:{env.port} {impostor_line}\n"
    known.write_text(content)
    with pytest.raises(HostKeyError) as info:
        _connect(env, ssh_known_hosts_file=str(known), ssh_strict_host_key_checking=policy)
    message = str(info.value)
    assert "\n" not in message and message.startswith("127.0.0.1: ")
    assert "CHANGED" in message and "ssh-ed25519" in message
    real = env.server.host_public_key("ed25519").split()[1]
    assert fingerprint(paramiko.PKey.from_type_string("ssh-ed25519", b64decode(real))) in message
    old = paramiko.PKey.from_type_string("ssh-ed25519", b64decode(impostor_line.split()[1]))
    assert fingerprint(old) in message
    assert f"{known} line 2" in message
    assert known.read_text() == content  # never rewritten


@pytest.mark.parametrize("policy", ["no", "off"])
def test_no_warns_and_records_nothing(
    env: SSHEnv, tmp_path: Path, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    known = tmp_path / "known_hosts"
    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        _connect(env, ssh_known_hosts_file=str(known), ssh_strict_host_key_checking=policy)
    assert "without checking" in caplog.text
    assert not known.exists()


def test_ssh_config_policy_applies_unless_data_sets_one(env: SSHEnv, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  StrictHostKeyChecking yes\n  UserKnownHostsFile {known}\n")
    with env.host(connect=False) as host:
        data = dict(host.data.dict())
    for key in ("ssh_strict_host_key_checking", "ssh_known_hosts_file"):
        data.pop(key)
    data["ssh_config_file"] = str(config)
    inventory, _ = env.inventory([("127.0.0.1", data)])
    with pytest.raises(HostKeyError, match="is unknown"):
        inventory.get_host("127.0.0.1").connect(raise_exceptions=True)
    assert not known.exists()
    # the inventory data wins over ssh_config
    inventory, _ = env.inventory(
        [("127.0.0.1", {**data, "ssh_strict_host_key_checking": "accept-new"})]
    )
    host = inventory.get_host("127.0.0.1")
    host.connect(raise_exceptions=True)
    host.disconnect()
    assert known.read_text().startswith(f"[127.0.0.1]:{env.port} ")
