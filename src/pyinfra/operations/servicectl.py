"""What every init system's ``service`` operation decides the same way: which of
start/stop/restart/reload/custom command to run, given whether the service runs now.

* ``running=True``: start it unless it runs; ``running=False``: stop it if it runs;
  ``running=None``: leave it as it is.
* ``restarted``/``reloaded``: only when it was running before the operation (a service
  just started needs no restart).
* ``command``: always run (custom actions may not depend on the state).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
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


def status_expect(
    plan: ServicePlan,
    fact: type[Any],
    fact_kwargs: dict[str, Any],
    statuses: dict[str, Any],
    name: str,
) -> tuple[tuple[type[Any], dict[str, Any], Any], ...]:
    """The dry-run prediction of the status fact ``fact`` (``{name: running}``, read
    with ``fact_kwargs``) after ``plan``; none when the plan leaves it unknown."""
    if plan.running_after is None:
        return ()
    return ((fact, fact_kwargs, {**statuses, name: plan.running_after}),)


def ensure_service(
    fact: type[Any],
    fact_kwargs: dict[str, Any],
    name: str,
    formatter: Formatter,
    running: bool | None,
    restarted: bool,
    reloaded: bool,
    command: str | None,
) -> Generator[Any, Any, None]:
    """The ``service`` operation of an init system whose status fact ``fact`` says
    ``{name: running}``: read it, run the plan's commands, predict the new status."""
    statuses = host.get_fact(fact, **fact_kwargs)
    plan = plan_service(name, statuses.get(name), formatter, running, restarted, reloaded, command)
    if plan.commands:
        yield from plan.commands
        yield FactChange(
            facts=(fact,), expect=status_expect(plan, fact, fact_kwargs, statuses, name)
        )
