"""register_connector and the errors a plugin's own bugs produce (API side)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connectors import (
    describe_connector,
    get_connector,
    register_connector,
    unregister_connector,
)
from pyinfra.api.exceptions import (
    ConnectError,
    ConnectorRegistrationError,
    InventoryError,
    NoConnectorError,
)
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.local import LocalConnector
from tests.plugins.seed_mycustom import MyCustomConnector


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_connector(name)


def register(names: list[str], name: str, cls: Any, **kwargs: Any) -> None:
    register_connector(name, cls, **kwargs)
    names.append(name)


def test_seed_example_works_as_written(
    registered: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    register(registered, "mycustom", MyCustomConnector)
    inventory = Inventory((["@mycustom/target"], {}))
    state = State(inventory, Config())
    host = inventory.get_host("@mycustom/target")
    assert host.connector_cls is MyCustomConnector
    assert host.data.custom_param == "target"
    assert host.connect(raise_exceptions=True)
    ok, output = host.run_shell_command("echo hi", print_input=True)
    assert ok and output.stdout_lines == []
    host.disconnect()
    printed = capsys.readouterr().out
    assert "Connecting to @mycustom/target..." in printed
    assert "$ echo hi" in printed
    assert "Disconnecting from @mycustom/target..." in printed
    del state


def test_registering_the_same_class_twice_is_fine(registered: list[str]) -> None:
    register(registered, "mycustom", MyCustomConnector)
    register_connector("mycustom", MyCustomConnector)
    assert get_connector("mycustom") is MyCustomConnector
    assert describe_connector(MyCustomConnector) == (
        "@mycustom (tests.plugins.seed_mycustom.MyCustomConnector)"
    )


@pytest.mark.parametrize(
    "name", ["ssh", "docker", "podman", "dockerssh", "podmanssh", "local", "chroot"]
)
def test_a_builtin_is_its_own_class_wherever_it_is_defined(
    name: str, registered: list[str]
) -> None:
    # The registry compares classes: SSHConnector is defined in pyinfra.connectors.ssh
    # .connector and named pyinfra.connectors.ssh:SSHConnector by its entry point.
    cls = get_connector(name)
    register(registered, name, cls)
    assert get_connector(name) is cls


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("cls", [object, dict, "LocalConnector", 42, None])
def test_refuses_a_class_that_is_not_a_connector(cls: Any) -> None:
    with pytest.raises(ConnectorRegistrationError) as info:
        register_connector("notaconnector", cls)
    assert "not a subclass of pyinfra.connectors.base.BaseConnector" in one_line(info.value)
    with pytest.raises(NoConnectorError):
        get_connector("notaconnector")


def test_refuses_a_name_taken_by_a_builtin() -> None:
    with pytest.raises(ConnectorRegistrationError) as info:
        register_connector("local", MyCustomConnector)
    message = one_line(info.value)
    assert ("@local is already taken by pyinfra.connectors.local.LocalConnector from package"
            in message)
    assert "replace=True" in message
    assert get_connector("local") is LocalConnector


def test_refuses_a_name_taken_by_another_registration(registered: list[str]) -> None:
    register(registered, "mycustom", MyCustomConnector)

    class Other(LocalConnector):
        pass

    with pytest.raises(ConnectorRegistrationError) as info:
        register_connector("mycustom", Other)
    assert "already taken by tests.plugins.seed_mycustom.MyCustomConnector" in one_line(info.value)
    register_connector("mycustom", Other, replace=True)
    assert get_connector("mycustom") is Other


@pytest.mark.parametrize("name", ["", "@mycustom", "my/custom", "a,b", "with space", 3])
def test_refuses_invalid_names(name: Any) -> None:
    with pytest.raises(ConnectorRegistrationError) as info:
        register_connector(name, MyCustomConnector)
    assert "invalid connector name" in one_line(info.value)


def test_refuses_an_executing_connector_missing_methods() -> None:
    class Half(BaseConnector):
        handles_execution = True

        @staticmethod
        def make_names_data(name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
            yield name, {}, []

    with pytest.raises(ConnectorRegistrationError) as info:
        register_connector("half", Half)
    assert "does not implement get_file, put_file, run_shell_command" in one_line(info.value)


def test_unknown_connector_lists_available_ones() -> None:
    with pytest.raises(NoConnectorError) as info:
        Inventory((["@nosuchconnector/x"], {}))
    message = one_line(info.value)
    assert "unknown connector @nosuchconnector" in message
    assert "@local" in message and "@terraform" in message and "@vagrant" in message


class RaisesInNames(LocalConnector):
    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        raise KeyError("instances")
        yield  # pragma: no cover


class RaisesInConnect(LocalConnector):
    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        yield f"@boomconnect/{name}", {}, []

    def connect(self) -> None:
        raise RuntimeError("backend unreachable")


def test_plugin_raising_in_make_names_data_is_named(registered: list[str]) -> None:
    register(registered, "boomnames", RaisesInNames)
    with pytest.raises(InventoryError) as info:
        Inventory((["@boomnames/x"], {}))
    message = one_line(info.value)
    assert f"connector @boomnames ({RaisesInNames.__module__}.RaisesInNames)" in message
    assert "raised KeyError while generating hosts for '@boomnames/x'" in message


def test_plugin_raising_in_connect_is_named(registered: list[str]) -> None:
    register(registered, "boomconnect", RaisesInConnect)
    inventory = Inventory((["@boomconnect/x"], {}))
    state = State(inventory, Config())
    host = inventory.get_host("@boomconnect/x")
    with pytest.raises(ConnectError) as info:
        host.connect(raise_exceptions=True)
    message = one_line(info.value)
    assert "@boomconnect/x: connector @boomconnect" in message
    assert "RaisesInConnect) raised RuntimeError in connect: backend unreachable" in message
    assert host in state.failed_hosts
    assert not host.connect(show_errors=False)
