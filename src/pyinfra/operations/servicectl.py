"""What every init system's ``service`` operation decides the same way: which of
start/stop/restart/reload/custom command to run, given whether the service runs now.

* ``running=True``: start it unless it runs; ``running=False``: stop it if it runs;
  ``running=None``: leave it as it is.
* ``restarted``/``reloaded``: only when it was running before the operation (a service
  just started needs no restart).
* ``command``: always run (custom actions may not depend on the state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.operations.util import fail

# (service name, action) -> the command running that action.
Formatter = Callable[[str, str], StringCommand]


@dataclass
class ServicePlan:
    commands: list[StringCommand] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    running_after: bool | None = None


def check_service_name(op: str, name: Any, argument: str = "service") -> str:
    """A service name: a non-empty string without whitespace, quotes or slashes."""
    if not isinstance(name, str) or not name.strip():
        raise fail(op, f"argument {argument} must be a non-empty string, got {name!r}")
    if any(c.isspace() for c in name) or any(c in name for c in "/'\"`$;&|<>"):
        raise fail(op, f"argument {argument} is not a valid service name: {name!r}")
    return name


def plan_service(
    name: str,
    is_running: bool | None,
    formatter: Formatter,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
) -> ServicePlan:
    """The commands to run (and ``host.noop`` notes for what is already right)."""
    plan = ServicePlan(running_after=is_running)

    def add(action: str) -> None:
        plan.commands.append(formatter(name, action))
        plan.actions.append(action)

    if running is False:
        if is_running:
            add("stop")
            plan.running_after = False
        else:
            host.noop(f"service {name} is stopped")
    elif running is True:
        if not is_running:
            add("start")
            plan.running_after = True
        else:
            host.noop(f"service {name} is running")
    if restarted and is_running:
        add("restart")
    if reloaded and is_running:
        add("reload")
    if command:
        add(command)
    return plan
