"""Manage OpenRC services (``rc-service``, ``rc-update``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.openrc import OpenrcEnabled, OpenrcStatus
from pyinfra.operations.servicectl import check_service_name, plan_service, status_expect
from pyinfra.operations.util import chain, fail

Commands = Generator[Any, Any, None]


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
    runlevel: str = "default",
) -> Commands:
    """Start/stop/restart/reload an OpenRC service, add it to or remove it from
    ``runlevel`` (``rc-update add|del``).

    + service: the service name (``/etc/init.d/NAME``)
    + running / restarted / reloaded / command: as in ``systemd.service``
    + enabled: whether it should be in ``runlevel`` (``None``: leave it)
    + runlevel: the runlevel for ``enabled`` and for the status check
    """
    op = "openrc.service"
    check_service_name(op, service)
    try:
        statuses = host.get_fact(OpenrcStatus, runlevel=runlevel)
    except FactError as exc:
        raise fail(op, str(exc).removeprefix("openrc: ")) from exc
    plan = plan_service(
        service,
        statuses.get(service),
        lambda name, action: StringCommand("rc-service", QuoteString(name), action),
        running,
        restarted,
        reloaded,
        command,
    )
    commands: list[Any] = list(plan.commands)
    expect = list(status_expect(plan, OpenrcStatus, {"runlevel": runlevel}, statuses, service))
    if isinstance(enabled, bool):
        members = host.get_fact(OpenrcEnabled, runlevel=runlevel)
        if members.get(service, False) != enabled:
            action = "add" if enabled else "del"
            commands.append(
                StringCommand("rc-update", action, QuoteString(service), QuoteString(runlevel))
            )
            expect.append((OpenrcEnabled, {"runlevel": runlevel}, {**members, service: enabled}))
        else:
            host.noop(f"service {service} is {'enabled' if enabled else 'disabled'}")
    if commands:
        yield from chain(commands)
        yield FactChange(facts=(OpenrcStatus, OpenrcEnabled), expect=tuple(expect))
