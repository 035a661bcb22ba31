"""@dockerssh: inventory names and the container-sshd address rules (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.docker.address import ssh_address
from pyinfra.connectors.dockerssh import DockerSSHConnector


def _names(arg: str | None) -> list[tuple[str, dict[str, Any], list[str]]]:
    return list(DockerSSHConnector.make_names_data(arg))


def test_remote_form_splits_host_and_target() -> None:
    assert _names("docker1.example:web") == [
        (
            "@dockerssh/docker1.example:web",
            {"dockerssh_host": "docker1.example", "docker_identifier": "web"},
            [],
        )
    ]


def test_image_with_tag_keeps_its_colon() -> None:
    [(_, data, _)] = _names("host:debian:bookworm")
    assert data == {"dockerssh_host": "host", "docker_identifier": "debian:bookworm"}


def test_user_at_host_and_ipv6() -> None:
    [(_, data, _)] = _names("admin@host:web")
    assert data == {"ssh_user": "admin", "dockerssh_host": "host", "docker_identifier": "web"}
    [(_, data, _)] = _names("[::1]:web")
    assert data == {"dockerssh_host": "::1", "docker_identifier": "web"}


def test_container_form() -> None:
    assert _names("web") == [("@dockerssh/web", {"docker_identifier": "web"}, [])]


@pytest.mark.parametrize("arg", [None, "", "host:", ":web", "[::1]web", "[::1"])
def test_bad_names_are_one_line_errors(arg: str | None) -> None:
    with pytest.raises(InventoryError) as info:
        _names(arg)
    assert "\n" not in str(info.value)
    assert "@dockerssh/HOST:CONTAINER_OR_IMAGE" in str(info.value)


def test_inventory_uses_the_connector_and_data() -> None:
    inventory = Inventory((["@dockerssh/h:c"], {"ssh_user": "me"}))
    host = inventory.get_host("@dockerssh/h:c")
    assert host.connector_cls is DockerSSHConnector
    assert host.data.dockerssh_host == "h"
    assert host.data.ssh_user == "me"


def _info(ports: dict[str, Any] | None = None, ip: str = "") -> dict[str, Any]:
    return {
        "NetworkSettings": {
            "Ports": ports or {},
            "IPAddress": "",
            "Networks": {"bridge": {"IPAddress": ip}} if ip else {},
        }
    }


def test_address_published_host_port_equal_to_ssh_port() -> None:
    info = _info({"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "2222"}]}, ip="10.9.0.2")
    assert ssh_address(info, 2222) == ("127.0.0.1", 2222)


def test_address_published_container_port() -> None:
    ports = {
        "22/tcp": [
            {"HostIp": "::", "HostPort": "32769"},
            {"HostIp": "0.0.0.0", "HostPort": "32768"},
        ]
    }
    assert ssh_address(_info(ports, ip="10.9.0.2"), None) == ("127.0.0.1", 32768)
    bound = {"2022/tcp": [{"HostIp": "127.0.0.5", "HostPort": "40000"}]}
    assert ssh_address(_info(bound), 2022) == ("127.0.0.5", 40000)


def test_address_container_ip() -> None:
    assert ssh_address(_info(ip="10.9.0.2"), None) == ("10.9.0.2", 22)
    assert ssh_address(_info({"80/tcp": None}, ip="10.9.0.2"), 2022) == ("10.9.0.2", 2022)


def test_address_none() -> None:
    assert ssh_address(_info(), None) is None


def test_podmanssh_names() -> None:
    from pyinfra.connectors.dockerssh import PodmanSSHConnector

    assert list(PodmanSSHConnector.make_names_data("admin@box:web")) == [
        (
            "@podmanssh/admin@box:web",
            {"ssh_user": "admin", "dockerssh_host": "box", "docker_identifier": "web"},
            [],
        )
    ]
    for arg in (None, "web", "box:"):
        with pytest.raises(InventoryError) as info:
            list(PodmanSSHConnector.make_names_data(arg))
        assert "\n" not in str(info.value)
        assert "@podmanssh/HOST:CONTAINER_OR_IMAGE" in str(info.value)
    inventory = Inventory((["@podmanssh/box:web"], {}))
    State(inventory, Config())
    host = inventory.get_host("@podmanssh/box:web")
    assert host.connector_cls is PodmanSSHConnector
    assert host.connector.data["dockerssh_docker_command"] == "podman"
