"""Manage BSD rc.d services (``/etc/rc.d`` or ``/usr/local/etc/rc.d`` scripts,
``NAME_enable`` in ``/etc/rc.conf.local``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.bsdinit import RcdStatus
from pyinfra.operations import files
from pyinfra.operations.nested import inner
from pyinfra.operations.servicectl import check_service_name, ensure_service

Commands = Generator[Any, Any, None]


def _rc(name: str, action: str) -> StringCommand:
    base, local = QuoteString(f"/etc/rc.d/{name}"), QuoteString(f"/usr/local/etc/rc.d/{name}")
    return StringCommand(
        "if", "[", "-e", base, "];", "then", base, action, ";", "else", local, action, ";", "fi"
    )


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
) -> Commands:
    """Start/stop/restart/reload an rc.d service; ``enabled`` sets (or removes)
    ``NAME_enable="YES"`` in ``/etc/rc.conf.local``."""
    check_service_name("bsdinit.service", service)
    yield from ensure_service(RcdStatus, {}, service, _rc, running, restarted, reloaded, command)
    if isinstance(enabled, bool):
        yield from inner(files.line)(
            path="/etc/rc.conf.local",
            line=f"^{service}_enable=",
            replace=f'{service}_enable="YES"',
            present=enabled,
        )
