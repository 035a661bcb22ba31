"""Inventory forms, data precedence, groups, registry errors, connector data types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connectors import (
    get_all_connectors,
    get_execution_connector,
    get_execution_connectors,
    register_connector,
    unregister_connector,
)
from pyinfra.api.exceptions import (
    ConnectorDataTypeError,
    ConnectorRegistrationError,
    InventoryError,
    NoConnectorError,
    NoGroupError,
    NoHostError,
)
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.fake import FakeConnector
from pyinfra.connectors.local import LocalConnector


def test_constructor_forms_and_precedence() -> None:
    inventory = Inventory(
        (["@fake/a", ("@fake/b", {"x": "host-b", "only_b": 1})], {"x": "global", "g": 1}),
        {"o": "override"},
        web=(["@fake/a", "@fake/b"], {"x": "web", "w": 1}),
        db=(["@fake/b"], {"x": "db"}),
    )
    a = inventory.get_host("@fake/a")
    b = inventory.get_host("@fake/b")
    assert a.data.x == "web"  # group beats global
    assert b.data.x == "host-b"  # host beats group
    assert b.data.get("only_b") == 1
    assert a.data.g == 1 and a.data.w == 1
    assert a.data.o == "override" and b.data.o == "override"
    # pyinfra 3.x: an unset key is an AttributeError (so getattr's default applies)
    with pytest.raises(AttributeError, match="has no data `missing`"):
        _ = a.data.missing
    assert getattr(a.data, "missing", "dflt") == "dflt" and a.data.get("missing") is None
    assert a.groups == ["web"]
    assert b.groups == ["web", "db"]
    assert [h.name for h in inventory.get_group("web")] == ["@fake/a", "@fake/b"]
    assert len(inventory) == 2


def test_later_group_wins() -> None:
    inventory = Inventory(
        (["@fake/a"], {}), first=(["@fake/a"], {"x": 1}), second=(["@fake/a"], {"x": 2})
    )
    assert inventory.get_host("@fake/a").data.x == 2


def test_override_beats_host() -> None:
    inventory = Inventory(([("@fake/a", {"x": 1})], {}), {"x": 9})
    assert inventory.get_host("@fake/a").data.x == 9


def test_missing_host_and_group() -> None:
    inventory = Inventory((["@fake/a"], {}))
    with pytest.raises(NoHostError, match="nope"):
        inventory.get_host("nope")
    with pytest.raises(NoGroupError, match="nogroup"):
        inventory.get_group("nogroup")
    assert inventory.get_host("nope", None) is None


def test_fake_expands_comma_list() -> None:
    inventory = Inventory((["@fake/a,b,c"], {}))
    assert [h.name for h in inventory] == ["@fake/a", "@fake/b", "@fake/c"]


def test_unknown_connector_lists_available() -> None:
    with pytest.raises(NoConnectorError) as info:
        Inventory((["@nope/x"], {}))
    message = str(info.value)
    assert "@nope" in message and "@local" in message and "@fake" in message


def test_local_takes_no_argument() -> None:
    with pytest.raises(InventoryError, match="@local takes no argument"):
        Inventory((["@local/x"], {}))


def test_registry_lists_builtins() -> None:
    connectors = get_all_connectors()
    assert connectors["local"] is LocalConnector
    assert connectors["fake"] is FakeConnector
    assert "local" in get_execution_connectors()
    assert get_execution_connector("local") is LocalConnector


class _NotAConnector:
    pass


def test_register_refuses_non_connector() -> None:
    with pytest.raises(ConnectorRegistrationError, match="not a subclass"):
        register_connector("bad", _NotAConnector)


def test_register_refuses_taken_name() -> None:
    class Other(LocalConnector):
        pass

    with pytest.raises(ConnectorRegistrationError, match="already taken"):
        register_connector("local", Other)


class TypedData(TypedDict, total=False):
    typed_port: int
    typed_name: str
    typed_ratio: float


class TypedConnector(BaseConnector):
    handles_execution = True
    data_cls = TypedData
    data_meta = {
        "typed_port": DataMeta("a port", 22),
        "typed_name": DataMeta("a name"),
        "typed_ratio": DataMeta("a ratio", 0.5),
    }

    @staticmethod
    def make_names_data(name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        yield f"@typed/{name}", {}, []

    def run_shell_command(
        self, command: Any, print_output: bool, print_input: bool, **arguments: Any
    ) -> Any:
        raise NotImplementedError

    def put_file(self, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError

    def get_file(self, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError


def test_connector_data_types_checked() -> None:
    register_connector("typed", TypedConnector)
    try:
        inventory = Inventory(
            ([("@typed/a", {"typed_port": "22"}), ("@typed/b", {"typed_ratio": 1})], {})
        )
        State(inventory, Config())
        with pytest.raises(ConnectorDataTypeError) as info:
            inventory.get_host("@typed/a").connector  # noqa: B018
        message = str(info.value)
        assert "@typed/a" in message and "typed_port" in message
        assert "int" in message and "str" in message
        assert isinstance(info.value, TypeError)
        connector = inventory.get_host("@typed/b").connector
        assert connector.data["typed_port"] == 22  # default from DataMeta
        assert connector.data["typed_ratio"] == 1  # int accepted for float
    finally:
        unregister_connector("typed")
