"""opkg (OpenWrt): packages and package lists. opkg has no version pinning."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.opkg import OpkgPackages, OpkgUpgradeablePackages
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    package_specs,
    packages_command,
    run_command,
)
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Manager:
    return Manager(
        op=op,
        tool="opkg",
        hint="not an OpenWrt host?",
        install=packages_command("opkg", "install"),
        remove=packages_command("opkg", "remove"),
        upgrade=packages_command("opkg", "upgrade"),
    )


def _run_update(op: str) -> Commands:
    yield from run_command(
        _manager(op), StringCommand("opkg", "update"), facts=(OpkgUpgradeablePackages,)
    )


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
    specs = package_specs(op, packages or None, present, latest)
    for spec in specs:
        if "=" in spec.name:
            raise fail(op, f"opkg cannot pin versions: {spec.name!r} (give the name only)")
    if update and specs:
        yield from _run_update(op)
    yield from ensure_packages(
        _manager(op), OpkgPackages, specs, present, latest, also_drop=(OpkgUpgradeablePackages,)
    )
