"""Fixtures for the whole test suite (tests/ is laid out like src/: unit/, contract/,
integration/ grouped by connector, and helpers/ for the real targets they start)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyinfra.api import Config
from pyinfra.api.host import Host
from tests.helpers.hosts import MakeHost, new_host


@pytest.fixture
def make_host() -> Iterator[MakeHost]:
    """``make_host(name="@local", data=None, config=None, connect=False)``: the host of a
    one-host inventory, bound to a ``State`` with ``config``; connected when asked.
    Every host made is disconnected when the test ends."""
    made: list[Host] = []

    def make(
        name: str = "@local",
        data: dict[str, Any] | None = None,
        config: Config | None = None,
        connect: bool = False,
    ) -> Host:
        host = new_host(name, data, config)
        made.append(host)
        if connect:
            host.connect(raise_exceptions=True)
        return host

    yield make
    for host in made:
        host.disconnect()
