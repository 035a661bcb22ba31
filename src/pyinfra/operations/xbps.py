"""XBPS (Void Linux): packages, repository sync, system upgrade."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.xbps import XbpsPackages
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    package_specs,
    packages_command,
    run_command,
)

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Manager:
    return Manager(
        op=op,
        tool="xbps-install",
        hint="not a Void Linux host?",
        install=packages_command("xbps-install", "-y"),
        remove=packages_command("xbps-remove", "-y"),
    )


def _run(op: str, *args: str) -> Commands:
    facts = (XbpsPackages,) if "-u" in args else ()
    yield from run_command(_manager(op), StringCommand("xbps-install", *args), facts)


@operation()
def update() -> Commands:
    """``xbps-install -S``: sync the repository indexes."""
    yield from _run("xbps.update", "-S")


@operation()
def upgrade() -> Commands:
    """``xbps-install -y -u``: upgrade every package."""
    yield from _run("xbps.upgrade", "-y", "-u")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    update: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Install or remove XBPS packages (``update``/``upgrade`` first if asked)."""
    op = "xbps.packages"
    specs = package_specs(op, packages)
    if update:
        yield from _run(op, "-S")
    if upgrade:
        yield from _run(op, "-y", "-u")
    yield from ensure_packages(_manager(op), XbpsPackages, specs, present, False)
