"""Manage upstart jobs (``initctl``; enabled at boot unless ``/etc/init/NAME.override``
says ``manual``)."""

from __future__ import annotations

import io
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.upstart import UpstartStatus
from pyinfra.operations import files
from pyinfra.operations.nested import inner
from pyinfra.operations.servicectl import check_service_name, plan_service

Commands = Generator[Any, Any, None]


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
) -> Commands:
    """Start/stop/restart/reload an upstart job (``initctl ACTION NAME``); ``enabled``
    removes (``True``) or writes (``False``) the ``manual`` override file."""
    check_service_name("upstart.service", service)
    statuses = host.get_fact(UpstartStatus)
    plan = plan_service(
        service,
        statuses.get(service),
        lambda name, action: StringCommand("initctl", action, QuoteString(name)),
        running,
        restarted,
        reloaded,
        command,
    )
    if plan.commands:
        yield from plan.commands
        expect: Any = ()
        if plan.running_after is not None:
            expect = ((UpstartStatus, {}, {**statuses, service: plan.running_after}),)
        yield FactChange(facts=(UpstartStatus,), expect=expect)
    override = f"/etc/init/{service}.override"
    if enabled is True:
        yield from inner(files.file)(path=override, present=False)
    elif enabled is False:
        yield from inner(files.put)(src=io.BytesIO(b"manual\n"), dest=override)
