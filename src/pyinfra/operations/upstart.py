"""Manage upstart jobs (``initctl``; enabled at boot unless ``/etc/init/NAME.override``
says ``manual``)."""

from __future__ import annotations

import io
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.upstart import UpstartStatus
from pyinfra.operations import files
from pyinfra.operations.nested import inner
from pyinfra.operations.servicectl import check_service_name, ensure_service

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
    yield from ensure_service(
        UpstartStatus,
        {},
        service,
        lambda name, action: StringCommand("initctl", action, QuoteString(name)),
        running,
        restarted,
        reloaded,
        command,
    )
    override = f"/etc/init/{service}.override"
    if enabled is True:
        yield from inner(files.file)(path=override, present=False)
    elif enabled is False:
        yield from inner(files.put)(src=io.BytesIO(b"manual\n"), dest=override)
