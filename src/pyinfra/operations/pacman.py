"""pacman (Arch Linux and derivatives): packages, database sync, system upgrade.

Installs are dry-run first (``pacman -S --needed --print``: the packages, group members
and dependencies pacman would install, with versions), in the read that checks that
pacman exists and that we are root; removals likewise (``pacman -R --print``).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.pacman import PacmanPackages, PacmanUnpackGroup
from pyinfra.operations._packaging import (
    Changes,
    Manager,
    Unsimulated,
    apply_changes,
    ensure_packages,
    package_list,
    probe,
    quoted,
    split_specs,
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
    def install(args: list[str]) -> StringCommand:
        return StringCommand("pacman", "--noconfirm", "-S", "--needed", *quoted(args))

    def remove(args: list[str]) -> StringCommand:
        return StringCommand("pacman", "--noconfirm", "-R", *quoted(args))

    def simulate(kind: str, args: list[str]) -> StringCommand:
        flag = "-R" if kind == "remove" else "-S"
        needed = [] if kind == "remove" else ["--needed"]
        return StringCommand("pacman", flag, *needed, "--print", *_PRINT_FORMAT, *quoted(args))

    return Manager(
        op=op,
        tool="pacman",
        hint=HINT,
        install=install,
        remove=remove,
        simulate=simulate,
        parse_simulation=parse_pacman_print,
    )


def _run_update(op: str) -> Commands:
    probe(_manager(op))
    yield StringCommand("pacman", "-Sy")
    yield FactChange(facts=(PacmanUnpackGroup,))


def _run_upgrade(op: str) -> Commands:
    manager = _manager(op)
    simulate = StringCommand("pacman", "-Su", "--print", *_PRINT_FORMAT)
    try:
        changes = parse_pacman_print(probe(manager, simulate, ("upgrade",)))
    except Unsimulated:
        changes = {"?": None}
    if not changes:
        host.noop("pacman: nothing to upgrade")
        return
    current = host.get_fact(PacmanPackages)
    yield StringCommand("pacman", "--noconfirm", "-Su")
    yield FactChange(known=((PacmanPackages, {}, apply_changes(current, changes)),))


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
    specs = split_specs(op, package_list(op, packages), "=", _VERSION)
    if update:
        yield from _run_update(op)
    if upgrade:
        yield from _run_upgrade(op)
    manager = _manager(op)
    if not present:
        manager.parse_simulation = _removal_parse
    yield from ensure_packages(manager, PacmanPackages, specs, present, False)
