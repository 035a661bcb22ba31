"""Run Puppet."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


@operation(is_idempotent=False)
def agent(server: str | None = None, port: int | None = None) -> Commands:
    """Run ``puppet agent -t`` (against ``server``/``port`` if given).

    ``puppet agent -t`` exits 2 when it changed something: pass
    ``_success_exit_codes=[0, 2]`` to count that as success.
    """
    bits: list[Any] = ["puppet", "agent", "-t"]
    if server:
        bits.append(QuoteString(f"--server={server}"))
    if port is not None:
        if isinstance(port, bool) or not str(port).isdigit():
            raise fail("puppet.agent", f"argument port must be a port number, got {port!r}")
        bits.append(QuoteString(f"--masterport={port}"))
    yield StringCommand(*bits)
