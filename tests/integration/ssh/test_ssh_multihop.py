"""Multi-hop SSH for real: hosts in network namespaces where only the bastion can reach
the middle host and only the middle host can reach the internal one
(``tests.helpers.sshnetns``). Also port forwarding through the chain."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from pyinfra.api.exceptions import HostKeyError
from pyinfra.connectors.ssh import SSHConnector
from tests.helpers.sshenv import KEY_USER, SSHEnv, make_ssh_env_fixture, pids_matching, wait_until
from tests.helpers.sshnetns import Topology, ssh_chain

env = make_ssh_env_fixture()


@pytest.fixture(scope="module")
def chain(env: SSHEnv) -> Iterator[Topology]:
    with ssh_chain() as topology:
        for hop in topology.hops.values():
            assert hop.server is not None
            hop.server.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
        yield topology


@pytest.fixture(scope="module")
def files(env: SSHEnv, chain: Topology) -> dict[str, Path]:
    known = env.work / "known_hosts_chain"
    known.write_text(chain.known_hosts_lines())
    config = env.work / "ssh_config_chain"
    hops = chain.hops
    common = (
        f"  User {KEY_USER}\n  IdentityFile {env.key}\n  UserKnownHostsFile {known}\n"
        "  StrictHostKeyChecking yes\n  BatchMode yes\n"
    )
    config.write_text(
        f"Host pyi-bastion\n  HostName {hops['bastion'].address}\n{common}"
        f"Host pyi-middle\n  HostName {hops['middle'].address}\n  ProxyJump pyi-bastion\n{common}"
        f"Host pyi-internal\n  HostName {hops['internal'].address}\n"
        f"  ProxyJump pyi-bastion,pyi-middle\n{common}"
    )
    return {"known": known, "config": config}


def _host_data(files: dict[str, Path], **extra: object) -> dict[str, object]:
    return {
        "ssh_config_file": str(files["config"]),
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
        **extra,
    }


def _ssh_connection(env: SSHEnv, name: str, data: dict[str, object]) -> str:
    inventory, _ = env.inventory([(name, data)])
    host = inventory.get_host(name)
    host.connect(raise_exceptions=True)
    try:
        ok, out = host.run_shell_command("echo $SSH_CONNECTION; id -un")
        assert ok, out.output
        return str(out.stdout)
    finally:
        host.disconnect()


def test_inner_hosts_are_not_reachable_directly(chain: Topology) -> None:
    for name in ("middle", "internal"):
        with pytest.raises(OSError):
            socket.create_connection((chain.hops[name].address, 22), timeout=3).close()
    socket.create_connection((chain.hops["bastion"].address, 22), timeout=3).close()


def test_proxyjump_from_ssh_config(env: SSHEnv, chain: Topology, files: dict[str, Path]) -> None:
    output = _ssh_connection(env, "pyi-middle", _host_data(files))
    client_address, _, server_address, _ = output.splitlines()[0].split()
    assert server_address == chain.hops["middle"].address
    # the middle host was reached from the bastion's side of their link
    assert client_address == chain.hops["middle"].address.rsplit(".", 1)[0] + ".1"
    assert output.splitlines()[1] == KEY_USER


def test_two_hop_chain(env: SSHEnv, chain: Topology, files: dict[str, Path]) -> None:
    output = _ssh_connection(env, "pyi-internal", _host_data(files))
    client_address, _, server_address, _ = output.splitlines()[0].split()
    assert server_address == chain.hops["internal"].address
    # the internal host was reached from the middle host's side of their link
    assert client_address == chain.hops["internal"].address.rsplit(".", 1)[0] + ".1"


def test_seed_proxycommand_example(env: SSHEnv, chain: Topology, files: dict[str, Path]) -> None:
    """The seed's multi-hop example, as written (plus -F for the test's ssh_config)."""
    middle = chain.hops["middle"]
    data = {
        "ssh_hostname": middle.address,
        "ssh_user": KEY_USER,
        "ssh_key": str(env.key),
        "ssh_known_hosts_file": str(files["known"]),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
        "ssh_paramiko_connect_kwargs": {
            "sock": paramiko.ProxyCommand(f"ssh -F {files['config']} pyi-bastion -W %h:%p"),
        },
    }
    output = _ssh_connection(env, "internal-host", data)
    assert output.splitlines()[0].split()[2] == middle.address
    assert output.splitlines()[1] == KEY_USER


def test_jump_hosts_follow_the_host_key_policy(
    env: SSHEnv, chain: Topology, files: dict[str, Path], tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    assert chain.hops["middle"].server is not None
    known.write_text(chain.hops["middle"].server.known_hosts_lines())  # bastion unknown
    config = tmp_path / "config"
    config.write_text(files["config"].read_text().replace(str(files["known"]), str(known)))
    with pytest.raises(HostKeyError) as info:
        _ssh_connection(env, "pyi-middle", _host_data({"config": config}))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("pyi-middle") and "jump host pyi-bastion" in message
    assert f"Host key for {chain.hops['bastion'].address} is unknown" in message


def test_timeout_kills_on_the_internal_host(
    env: SSHEnv, chain: Topology, files: dict[str, Path]
) -> None:
    tag = f"{50000 + uuid.uuid4().int % 9000}"
    inventory, _ = env.inventory([("pyi-internal", _host_data(files))])
    host = inventory.get_host("pyi-internal")
    try:
        ok, out = host.run_shell_command(f"sleep {tag}1 & sleep {tag}2", _timeout=1)
        assert not ok and out.timed_out
        assert wait_until(lambda: not pids_matching(f"sleep {tag}"), timeout=5)
    finally:
        host.disconnect()


def test_port_forwarding_through_the_bastion(
    env: SSHEnv, chain: Topology, files: dict[str, Path]
) -> None:
    inventory, _ = env.inventory([("pyi-bastion", _host_data(files))])
    host = inventory.get_host("pyi-bastion")
    host.connect(raise_exceptions=True)
    connector = host.connector
    assert isinstance(connector, SSHConnector)
    middle = chain.hops["middle"].address
    try:
        with connector.forward_port(middle, 22) as forward:
            assert forward.local_host == "127.0.0.1" and forward.local_port > 0
            for _ in range(2):  # several connections through one forward
                with socket.create_connection(("127.0.0.1", forward.local_port), 5) as sock:
                    assert sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
            port = forward.local_port
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), 2).close()
        # forwards still open at disconnect are closed with it
        other = connector.forward_port(middle, 22)
        sock = socket.create_connection(("127.0.0.1", other.local_port), 5)
        assert sock.recv(64).startswith(b"SSH-2.0-")
    finally:
        host.disconnect()
    assert other.closed
    sock.settimeout(5)
    assert sock.recv(64) == b""  # the forwarded connection was closed too
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other.local_port), 2).close()
