"""Edit FreeBSD rc.conf values safely (``sysrc``), optionally inside a jail."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.freebsd import Sysrc
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]

SYSRC_ADD: str = "add"
SYSRC_SUB: str = "sub"
SYSRC_SET: str = "set"
SYSRC_DEL: str = "del"
_SIGNS = {SYSRC_SET: "=", SYSRC_DEL: "=", SYSRC_ADD: "+=", SYSRC_SUB: "-="}


@operation()
def sysrc(
    parameter: str,
    value: str,
    jail: str | None = None,
    command: str = SYSRC_SET,
    overwrite: bool = False,
) -> Commands:
    """Change an rc.conf parameter: ``set`` it (only if unset, unless ``overwrite``),
    ``add`` or ``sub`` a value to/from it, or ``del`` it (if set)."""
    op = "freebsd.sysrc.sysrc"
    if not isinstance(parameter, str) or not parameter.replace("_", "a").isalnum():
        raise fail(op, f"argument parameter is not an rc.conf name: {parameter!r}")
    if command not in _SIGNS:
        raise fail(op, f"argument command must be one of {', '.join(_SIGNS)}, got {command!r}")
    bits: list[Any] = ["sysrc", "-i"]
    if command == SYSRC_DEL:
        if not host.get_fact(Sysrc, parameter=parameter, jail=jail):
            host.noop(f"Cannot find sysrc(8) parameter '{parameter}'")
            return
        bits.append("-x")
    elif command == SYSRC_SET and not overwrite:
        if host.get_fact(Sysrc, parameter=parameter, jail=jail):
            host.noop(f"sysrc(8) parameter '{parameter}' already set")
            return
    if jail is not None:
        bits += ["-j", QuoteString(jail)]
    bits += ["--", QuoteString(f"{parameter}{_SIGNS[command]}{value}")]
    yield StringCommand(*bits)
    yield FactChange(facts=(Sysrc,))
