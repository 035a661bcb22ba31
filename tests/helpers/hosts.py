"""Hosts for tests: the one way to build a host bound to a run (see the root conftest's
``make_host`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host

# make_host(name="@local", data=None, config=None, connect=False) -> Host
MakeHost = Callable[..., Host]


def new_host(
    name: str = "@local",
    data: dict[str, Any] | None = None,
    config: Config | None = None,
) -> Host:
    """The host of a one-host inventory, bound to a ``State`` with ``config``."""
    inventory = Inventory(([(name, dict(data or {}))], {}))
    State(inventory, config or Config())
    return next(iter(inventory))


def count_commands(host: Host, transfers: bool = False) -> list[str]:
    """Record every command the host's connector runs from now on (its text; with
    ``transfers``, also ``"put_file"``/``"get_file"`` for each transfer); the list
    fills in as they run. The commands still run, on the real target."""
    seen: list[str] = []
    connector: Any = host.connector
    original = connector.run_shell_command

    def spy(command: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(command))
        return original(command, *args, **kwargs)

    connector.run_shell_command = spy
    if transfers:
        for name in ("put_file", "get_file"):

            def spy_transfer(
                *args: Any, _name: str = name, _real: Any = getattr(connector, name), **kwargs: Any
            ) -> Any:
                seen.append(_name)
                return _real(*args, **kwargs)

            setattr(connector, name, spy_transfer)
    return seen
