"""pkgin (pkgsrc binary packages: NetBSD, SmartOS, macOS...)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.pkgin import PkginPackages
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
        tool="pkgin",
        hint="not a pkgsrc host (NetBSD, SmartOS)?",
        install=packages_command("pkgin", "-y", "install"),
        remove=packages_command("pkgin", "-y", "remove"),
        upgrade=packages_command("pkgin", "-y", "install"),
    )


def _run(op: str, verb: str) -> Commands:
    facts = (PkginPackages,) if verb != "update" else ()
    yield from run_command(_manager(op), StringCommand("pkgin", "-y", verb), facts)


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
    specs = package_specs(op, packages, present, latest)
    if update:
        yield from _run(op, "update")
    if upgrade:
        yield from _run(op, "upgrade")
    yield from ensure_packages(_manager(op), PkginPackages, specs, present, latest)
