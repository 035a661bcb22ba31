"""opkg (OpenWrt): packages and package lists. opkg has no version pinning."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.opkg import OpkgPackages, OpkgUpgradeablePackages
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
    ensure_packages,
    package_list,
    probe,
    quoted,
    split_specs,
)
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Manager:
    return Manager(
        op=op,
        tool="opkg",
        hint="not an OpenWrt host?",
        install=lambda args: StringCommand("opkg", "install", *quoted(args)),
        remove=lambda args: StringCommand("opkg", "remove", *quoted(args)),
        upgrade=lambda args: StringCommand("opkg", "upgrade", *quoted(args)),
    )


def _run_update(op: str) -> Commands:
    probe(_manager(op))
    yield StringCommand("opkg", "update")
    yield FactChange(facts=(OpkgUpgradeablePackages,))


@operation()
def update() -> Commands:
    """``opkg update``: fetch the package lists."""
    yield from _run_update("opkg.update")


_update = update


@operation()
def packages(
    packages: str | list[str] = "",
    present: bool = True,
    latest: bool = False,
    update: bool = True,
) -> Commands:
    """Install, upgrade (``latest``) or remove opkg packages (``opkg update`` first by
    default, as pyinfra does; OpenWrt keeps its lists in RAM)."""
    op = "opkg.packages"
    check_conflicts(op, present, latest)
    names = package_list(op, packages or None)
    for name in names:
        if "=" in name:
            raise fail(op, f"opkg cannot pin versions: {name!r} (give the name only)")
    specs = split_specs(op, names, None)
    if update and names:
        yield from _run_update(op)
    yield from ensure_packages(
        _manager(op), OpkgPackages, specs, present, latest, also_drop=(OpkgUpgradeablePackages,)
    )
