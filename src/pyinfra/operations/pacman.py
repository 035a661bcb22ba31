"""pacman (Arch Linux and derivatives): packages, database sync, system upgrade.

Installs are dry-run first (``pacman -S --needed --print``: the packages, group members
and dependencies pacman would install, with versions), in the read that checks that
pacman exists and that we are root; removals likewise (``pacman -R --print``).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.pacman import PacmanPackages, PacmanUnpackGroup
from pyinfra.operations._packaging import (
    Changes,
    Manager,
    ensure_packages,
    package_specs,
    packages_command,
    quoted,
    run_command,
    upgrade_all,
)

Commands = Generator[Any, Any, None]
HINT = "not an Arch-family host?"
_VERSION = re.compile(r"[A-Za-z0-9._+:~-]+")
_PRINT_FORMAT = ["--print-format", "'%n %v'"]


def parse_pacman_print(lines: list[str], removing: bool = False) -> Changes:
    """``name version`` lines of ``pacman --print --print-format '%n %v'``."""
    changes: Changes = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and not line.startswith((":", "warning", "error")):
            changes[parts[0]] = None if removing else parts[1]
    return changes


def _manager(op: str) -> Manager:
    def simulate(kind: str, args: list[str]) -> StringCommand:
        flag = "-R" if kind == "remove" else "-S"
        needed = [] if kind == "remove" else ["--needed"]
        return StringCommand("pacman", flag, *needed, "--print", *_PRINT_FORMAT, *quoted(args))

    return Manager(
        op=op,
        tool="pacman",
        hint=HINT,
        install=packages_command("pacman", "--noconfirm", "-S", "--needed"),
        remove=packages_command("pacman", "--noconfirm", "-R"),
        simulate=simulate,
        parse_simulation=parse_pacman_print,
    )


def _run_update(op: str) -> Commands:
    yield from run_command(_manager(op), StringCommand("pacman", "-Sy"), facts=(PacmanUnpackGroup,))


def _run_upgrade(op: str) -> Commands:
    yield from upgrade_all(
        _manager(op),
        PacmanPackages,
        command=StringCommand("pacman", "--noconfirm", "-Su"),
        simulate=StringCommand("pacman", "-Su", "--print", *_PRINT_FORMAT),
        parse=parse_pacman_print,
        nothing="pacman: nothing to upgrade",
    )


@operation()
def update() -> Commands:
    """``pacman -Sy``: sync the package databases."""
    yield from _run_update("pacman.update")


@operation()
def upgrade() -> Commands:
    """``pacman -Su``, only when pacman has something to upgrade."""
    yield from _run_upgrade("pacman.upgrade")


def _removal_parse(lines: list[str]) -> Changes:
    return parse_pacman_print(lines, removing=True)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    update: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Install or remove pacman packages and groups; ``name=version`` pins.

    ``update``/``upgrade`` run ``pacman -Sy``/``pacman -Su`` first. A group is
    installed when pacman has none of its members left to install.
    """
    op = "pacman.packages"
    specs = package_specs(op, packages, separator="=", version_pattern=_VERSION)
    if update:
        yield from _run_update(op)
    if upgrade:
        yield from _run_upgrade(op)
    manager = _manager(op)
    if not present:
        manager.parse_simulation = _removal_parse
    yield from ensure_packages(manager, PacmanPackages, specs, present, False)
