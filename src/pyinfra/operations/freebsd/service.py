"""Control FreeBSD rc(8) services (``service``), optionally inside a jail."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.freebsd import ServiceScript, ServiceStatus
from pyinfra.operations.servicectl import check_service_name
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]

SRV_STARTED: str = "started"
SRV_STOPPED: str = "stopped"
SRV_RESTARTED: str = "restarted"
SRV_RELOADED: str = "reloaded"
SRV_CUSTOM: str = "custom"
STATES = (SRV_STARTED, SRV_STOPPED, SRV_RESTARTED, SRV_RELOADED, SRV_CUSTOM)


@operation()
def service(
    srvname: str,
    jail: str | None = None,
    srvstate: str = SRV_STARTED,
    command: str | list[str] | None = None,
    environment: list[str] | None = None,
    verbose: bool = False,
) -> Commands:
    """Bring an rc(8) service to ``srvstate``: ``started``, ``stopped`` (only if
    needed), ``restarted``, ``reloaded`` or ``custom`` (run ``command``, e.g.
    ``"configure"``). ``jail``, ``environment`` (``-E VAR=value``) and ``verbose``
    (``-v``) are passed to ``service``. A missing script is noted, not an error."""
    op = "freebsd.service.service"
    check_service_name(op, srvname, "srvname")
    if srvstate not in STATES:
        raise fail(op, f"argument srvstate must be one of {', '.join(STATES)}, got {srvstate!r}")
    if not host.get_fact(ServiceScript, srvname=srvname, jail=jail):
        host.noop(f"Cannot find rc(8) script '{srvname}'")
        return
    bits: list[Any] = ["service"]
    if verbose:
        bits.append("-v")
    if jail is not None:
        bits += ["-j", QuoteString(jail)]
    for variable in environment or []:
        bits += ["-E", QuoteString(variable)]
    bits.append(QuoteString(srvname))
    if srvstate in (SRV_STARTED, SRV_STOPPED):
        running = bool(host.get_fact(ServiceStatus, srvname=srvname, jail=jail))
        if running == (srvstate == SRV_STARTED):
            host.noop(f"Service '{srvname}' already {srvstate}")
            return
        bits.append("start" if srvstate == SRV_STARTED else "stop")
    elif srvstate == SRV_RESTARTED:
        bits.append("restart")
    elif srvstate == SRV_RELOADED:
        bits.append("reload")
    else:
        commands = [command] if isinstance(command, str) else list(command or [])
        bits += [QuoteString(c) for c in commands]
    yield StringCommand(*bits)
    yield FactChange(facts=(ServiceStatus,))
