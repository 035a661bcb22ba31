"""Manage launchd services (macOS, ``launchctl``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.launchd import LaunchdStatus
from pyinfra.operations.servicectl import check_service_name, plan_service, status_expect

Commands = Generator[Any, Any, None]


def _launchctl(name: str, action: str) -> StringCommand:
    return StringCommand("launchctl", action, QuoteString(name))


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    command: str | None = None,
) -> Commands:
    """Start/stop a launchd service by label; ``restarted`` stops and starts it if it
    was running; ``command``: a custom ``launchctl COMMAND LABEL``."""
    check_service_name("launchd.service", service)
    statuses = host.get_fact(LaunchdStatus)
    was_running = statuses.get(service)
    plan = plan_service(service, was_running, _launchctl, running, command=command)
    commands = list(plan.commands)
    if restarted and was_running:
        commands += [_launchctl(service, "stop"), _launchctl(service, "start")]
    if commands:
        yield from commands
        expect = status_expect(plan, LaunchdStatus, {}, statuses, service)
        yield FactChange(facts=(LaunchdStatus,), expect=expect)
