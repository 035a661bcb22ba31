"""pkgin (pkgsrc binary packages: NetBSD, SmartOS, macOS...)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.pkgin import PkginPackages
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
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
        tool="pkgin",
        hint="not a pkgsrc host (NetBSD, SmartOS)?",
        install=lambda args: StringCommand("pkgin", "-y", "install", *quoted(args)),
        remove=lambda args: StringCommand("pkgin", "-y", "remove", *quoted(args)),
        upgrade=lambda args: StringCommand("pkgin", "-y", "install", *quoted(args)),
    )


def _run(op: str, verb: str) -> Commands:
    probe(_manager(op))
    yield StringCommand("pkgin", "-y", verb)
    yield FactChange(facts=(PkginPackages,) if verb != "update" else ())


@operation()
def update() -> Commands:
    """``pkgin -y update``: refresh the package summary."""
    yield from _run("pkgin.update", "update")


@operation()
def upgrade() -> Commands:
    """``pkgin -y upgrade``: upgrade every package."""
    yield from _run("pkgin.upgrade", "upgrade")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Install, upgrade (``latest``) or remove pkgin packages."""
    op = "pkgin.packages"
    check_conflicts(op, present, latest)
    specs = split_specs(op, package_list(op, packages), None)
    if update:
        yield from _run(op, "update")
    if upgrade:
        yield from _run(op, "upgrade")
    yield from ensure_packages(_manager(op), PkginPackages, specs, present, latest)
