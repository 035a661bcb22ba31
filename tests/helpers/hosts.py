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
