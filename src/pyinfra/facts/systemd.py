"""systemd units: whether they are active, whether they are enabled (``systemctl show``)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase

# A unit name: letters, digits and ":-_.\@", a dot, then one of the unit types.
UNIT_TYPES = (
    "service", "socket", "device", "mount", "automount", "swap",
    "target", "path", "timer", "slice", "scope",
)  # fmt: skip
SYSTEMD_UNIT_NAME_REGEX = r"[a-zA-Z0-9\:\-\_\.\\\@]+\.(?:" + "|".join(UNIT_TYPES) + ")"
_UNIT_NAME = re.compile(SYSTEMD_UNIT_NAME_REGEX)
_MACHINE = re.compile(r"^[A-Za-z0-9_.@-]*$")
_T = TypeVar("_T")


def systemctl_command(
    user_mode: bool = False, machine: str | None = None, user_name: str | None = None
) -> StringCommand:
    """``systemctl [--user] [--machine=[USER@]MACHINE]`` (``user_name`` alone means
    that user's manager on this machine: ``--machine=USER@.host``)."""
    for value, what in ((machine, "machine"), (user_name, "user_name")):
        if value is not None and (not value or not _MACHINE.match(value)):
            raise FactError(f"systemd: {what} is not a valid name: {value!r}")
    bits: list[Any] = ["systemctl"]
    if user_mode:
        bits.append("--user")
    if machine is not None:
        target = f"{user_name}@{machine}" if user_name is not None else machine
        bits.append(f"--machine={target}")
    elif user_name is not None:
        bits.append(f"--machine={user_name}@.host")
    return StringCommand(*bits)


def _unit_arguments(services: str | list[str] | None) -> list[QuoteString]:
    if services is None:
        return [QuoteString("*")]
    if isinstance(services, str):
        return [QuoteString(services)]
    return [QuoteString(s) for s in services]


def parse_show(output: list[str], properties: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``systemctl show`` blocks (``Id=`` first) -> ``{unit: {property: value}}``."""
    units: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in output:
        key, sep, value = line.strip().partition("=")
        if not sep:
            current = None
            continue
        if key == "Id":
            current = units.setdefault(value, {}) if _UNIT_NAME.match(value) else None
        elif current is not None and key in properties:
            current[key] = value
    return units


def show_command(
    properties: tuple[str, ...],
    user_mode: bool,
    machine: str | None,
    user_name: str | None,
    services: str | list[str] | None,
) -> StringCommand:
    command = StringCommand(
        systemctl_command(user_mode, machine, user_name),
        "show", "--all", "--property", ",".join(("Id", *properties)),
        *_unit_arguments(services),
    )  # fmt: skip
    if user_mode:
        # A user manager may not run yet (no session): no units rather than an error.
        return StringCommand("(", command, "2>/dev/null", "||", "true", ")")
    return command


class _SystemctlShowFact(FactBase[_T]):
    """Base of the facts read with ``systemctl show``: ``properties`` of every loaded
    unit (or only ``services``); ``{}`` where there is no systemctl."""

    abstract = True
    properties: tuple[str, ...] = ()

    @staticmethod
    def default() -> Any:
        return {}

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemctl"

    def command(
        self,
        user_mode: bool = False,
        machine: str | None = None,
        user_name: str | None = None,
        services: str | list[str] | None = None,
    ) -> StringCommand:
        return show_command(self.properties, user_mode, machine, user_name, services)


class SystemdStatus(_SystemctlShowFact["dict[str, bool]"]):
    """``{unit: active}`` for every loaded unit (or only ``services``): ``True`` when the
    unit's sub-state is running, waiting, exited, listening or mounted.

    ``user_mode``: the user's manager (``systemctl --user``); ``machine``/``user_name``:
    another container's or user's manager (``--machine=USER@MACHINE``).
    """

    state_key = "SubState"
    properties = (state_key,)
    state_values: tuple[str, ...] = ("running", "waiting", "exited", "listening", "mounted")

    def process(self, output: list[str]) -> dict[str, bool]:
        units = parse_show(output, (self.state_key,))
        return {
            unit: props[self.state_key] in self.state_values
            for unit, props in units.items()
            if self.state_key in props
        }


class SystemdEnabled(SystemdStatus):
    """``{unit: enabled}`` for every loaded unit (or only ``services``): ``True`` when
    the unit file state is enabled or static. Same arguments as :class:`SystemdStatus`."""

    state_key = "UnitFileState"
    properties = (state_key,)
    state_values = ("enabled", "static")


UNIT_PROPERTIES = ("LoadState", "SubState", "UnitFileState", "NeedDaemonReload")


class SystemdUnitState(_SystemctlShowFact["dict[str, dict[str, str]]"]):
    """What :mod:`pyinfra.operations.systemd` needs about units, in one read:
    ``{unit: {"LoadState", "SubState", "UnitFileState", "NeedDaemonReload"}}``."""

    properties = UNIT_PROPERTIES

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        return parse_show(output, UNIT_PROPERTIES)
