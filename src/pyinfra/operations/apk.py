"""apk (Alpine Linux): packages, index updates and upgrades.

Changes are dry-run first (``apk --simulate``) in the read that checks that apk exists
and that we are root; the dry run's "Installing/Upgrading/Purging" lines give the new
``apk.ApkPackages`` value.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.apk import ApkPackages
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
HINT = "not an Alpine host?"
# "(1/2) Installing curl (8.5.0-r0)", "(1/1) Upgrading musl (1.2.4-r1 -> 1.2.4-r2)",
# "(1/1) Purging curl (8.5.0-r0)" (apk-tools 2.x; see apk(8) --simulate).
_SIM = re.compile(
    r"^\(\d+/\d+\)\s+(Installing|Upgrading|Downgrading|Purging|Replacing)\s+(\S+)\s+\((.*)\)"
)
_VERSION = re.compile(r"[A-Za-z0-9._+~-]+")


def parse_apk_simulation(lines: list[str]) -> Changes:
    changes: Changes = {}
    for line in lines:
        match = _SIM.match(line.strip())
        if match:
            action, name, versions = match.groups()
            new = versions.split("->")[-1].strip()
            changes[name] = None if action == "Purging" else new
    return changes


def _apk(*args: Any) -> StringCommand:
    return StringCommand("apk", *args)


def _manager(op: str) -> Manager:
    def simulate(kind: str, args: list[str]) -> StringCommand:
        verb = {"install": "add", "remove": "del", "upgrade": "upgrade"}[kind]
        return _apk(verb, "--simulate", *quoted(args))

    return Manager(
        op=op,
        tool="apk",
        hint=HINT,
        install=packages_command("apk", "add"),
        remove=packages_command("apk", "del"),
        upgrade=packages_command("apk", "upgrade"),
        simulate=simulate,
        parse_simulation=parse_apk_simulation,
    )


def _run_update(op: str) -> Commands:
    yield from run_command(_manager(op), _apk("update"))


def _run_upgrade(op: str, available: bool) -> Commands:
    flags = ["--available"] if available else []
    yield from upgrade_all(
        _manager(op),
        ApkPackages,
        command=_apk("upgrade", *flags),
        simulate=_apk("upgrade", "--simulate", *flags),
        parse=parse_apk_simulation,
        nothing="apk upgrade: nothing to upgrade",
    )


@operation()
def update() -> Commands:
    """``apk update``: refresh the package indexes."""
    yield from _run_update("apk.update")


@operation()
def upgrade(available: bool = False) -> Commands:
    """``apk upgrade`` (``--available`` with ``available``), when something would change."""
    yield from _run_upgrade("apk.upgrade", available)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Add, upgrade (``latest``) or delete apk packages; ``name=version`` pins.

    ``update``/``upgrade`` run ``apk update``/``apk upgrade`` first.
    """
    op = "apk.packages"
    specs = package_specs(op, packages, present, latest, "=", _VERSION)
    if update:
        yield from _run_update(op)
    if upgrade:
        yield from _run_upgrade(op, False)
    yield from ensure_packages(_manager(op), ApkPackages, specs, present, latest)
