"""XBPS (Void Linux): packages, repository sync, system upgrade."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.xbps import XbpsPackages
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    package_list,
    probe,
    quoted,
    split_specs,
)

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Manager:
    return Manager(
        op=op,
        tool="xbps-install",
        hint="not a Void Linux host?",
        install=lambda args: StringCommand("xbps-install", "-y", *quoted(args)),
        remove=lambda args: StringCommand("xbps-remove", "-y", *quoted(args)),
    )


def _run(op: str, *args: str) -> Commands:
    probe(_manager(op))
    yield StringCommand("xbps-install", *args)
    yield FactChange(facts=(XbpsPackages,) if "-u" in args else ())


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
    specs = split_specs(op, package_list(op, packages), None)
    if update:
        yield from _run(op, "-S")
    if upgrade:
        yield from _run(op, "-y", "-u")
    yield from ensure_packages(_manager(op), XbpsPackages, specs, present, False)
