"""Manage systemd units: start, stop, restart, reload, enable, disable, daemon-reload.

One ``systemctl show`` reads everything the operation needs about the unit (active
state, unit-file state, whether its files changed since the last daemon-reload), and
the resulting ``systemctl`` commands run in one round trip.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.systemd import (
    UNIT_TYPES,
    SystemdEnabled,
    SystemdStatus,
    SystemdUnitState,
    systemctl_command,
)
from pyinfra.operations.servicectl import check_service_name, plan_service
from pyinfra.operations.util import chain, fail

Commands = Generator[Any, Any, None]

_ACTIVE = SystemdStatus.state_values
_ENABLED = SystemdEnabled.state_values
_UNIT_FACTS = (SystemdUnitState, SystemdStatus, SystemdEnabled)


def _systemctl(
    op: str, user_mode: bool, machine: str | None, user_name: str | None
) -> StringCommand:
    try:
        return systemctl_command(user_mode, machine, user_name)
    except FactError as exc:
        raise fail(op, str(exc).removeprefix("systemd: ")) from exc


def unit_name(service: str) -> str:
    """``nginx`` -> ``nginx.service``; names with a unit type suffix stay as they are."""
    if service.endswith(tuple(f".{kind}" for kind in UNIT_TYPES)):
        return service
    return f"{service}.service"


@operation(is_idempotent=False)
def daemon_reload(
    user_mode: bool = False, machine: str | None = None, user_name: str | None = None
) -> Commands:
    """Make systemd read its unit files again (``systemctl daemon-reload``).

    + user_mode: the calling user's manager (``systemctl --user``)
    + machine: the manager of another machine/container (``--machine``)
    + user_name: the manager of that user (``--machine=USER@.host`` without ``machine``)
    """
    systemctl = _systemctl("systemd.daemon_reload", user_mode, machine, user_name)
    yield StringCommand(systemctl, "daemon-reload")
    yield FactChange(facts=_UNIT_FACTS)


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
    daemon_reload: bool = False,
    user_mode: bool = False,
    machine: str | None = None,
    user_name: str | None = None,
) -> Commands:
    """Start/stop/restart/reload a systemd unit, enable or disable it at boot.

    + service: the unit (``nginx`` means ``nginx.service``; ``logrotate.timer``...)
    + running: whether it should be active (``None``: leave it)
    + restarted / reloaded: restart / reload it if it was active
    + command: a custom ``systemctl COMMAND UNIT`` to run
    + enabled: whether it should start at boot (``None``: leave it)
    + daemon_reload: run ``systemctl daemon-reload`` first when the unit's files changed
      since systemd last read them (or it is not loaded yet); a no-op otherwise
    + user_mode, machine, user_name: which manager, as for :func:`daemon_reload`

    An unknown unit makes ``systemctl`` fail with its own message
    (``Unit foo.service not found.``).
    """
    op = "systemd.service"
    unit = unit_name(check_service_name(op, service))
    systemctl = _systemctl(op, user_mode, machine, user_name)
    where: dict[str, Any] = {
        "user_mode": user_mode,
        "machine": machine,
        "user_name": user_name,
        "services": [unit],
    }
    info = host.get_fact(SystemdUnitState, **where).get(unit, {})

    if daemon_reload:
        if info.get("NeedDaemonReload") == "yes" or info.get("LoadState") != "loaded":
            yield StringCommand(systemctl, "daemon-reload")
            yield FactChange(facts=_UNIT_FACTS)
            info = host.get_fact(SystemdUnitState, **where).get(unit, {})
        else:
            host.noop(f"unit {unit} is up to date: no daemon-reload needed")

    is_running = info.get("SubState") in _ACTIVE if info else None
    plan = plan_service(
        unit,
        is_running,
        lambda name, action: StringCommand(systemctl, action, QuoteString(name)),
        running,
        restarted,
        reloaded,
        command,
    )
    commands = list(plan.commands)
    new_state = dict(info)
    if plan.running_after is not None and plan.running_after != is_running:
        new_state["SubState"] = "running" if plan.running_after else "dead"

    if isinstance(enabled, bool):
        is_enabled = info.get("UnitFileState") in _ENABLED
        if enabled and not is_enabled:
            commands.append(StringCommand(systemctl, "enable", QuoteString(unit)))
            new_state["UnitFileState"] = "enabled"
        elif not enabled and is_enabled:
            commands.append(StringCommand(systemctl, "disable", QuoteString(unit)))
            new_state["UnitFileState"] = "disabled"
        else:
            host.noop(f"unit {unit} is {'enabled' if enabled else 'disabled'}")

    if commands:
        yield from chain(commands)
        yield FactChange(
            facts=_UNIT_FACTS,
            expect=((SystemdUnitState, where, {unit: new_state}),),
        )
