"""npm: Node.js packages, global or in a project directory."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString
from pyinfra.api.operation import operation
from pyinfra.facts.npm import NpmPackages
from pyinfra.operations._packaging import (
    Manager,
    Spec,
    check_conflicts,
    ensure_packages,
    package_list,
    packages_command,
)

Commands = Generator[Any, Any, None]


def _spec(raw: str) -> Spec:
    """``name@version`` (``@scope/name@version`` too) -> name and pinned version."""
    head, sep, version = raw[1:].rpartition("@") if raw.startswith("@") else raw.rpartition("@")
    if not sep:
        return Spec(raw, raw, None)
    name = ("@" + head) if raw.startswith("@") else head
    return Spec(raw, name, version or None)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    directory: str | None = None,
) -> Commands:
    """Install, update (``latest``) or uninstall npm packages, globally or in the project
    in ``directory``; ``name@version`` pins."""
    op = "npm.packages"
    check_conflicts(op, present, latest)
    specs = [_spec(raw) for raw in package_list(op, packages)]
    where: list[Any] = ["cd", QuoteString(directory), "&&"] if directory else []
    scope = [] if directory else ["-g"]
    manager = Manager(
        op=op,
        tool="npm",
        hint="is npm installed (apt install npm)?",
        install=packages_command(*where, "npm", "install", *scope),
        remove=packages_command(*where, "npm", "uninstall", *scope),
        upgrade=packages_command(*where, "npm", "update", *scope),
        needs_root=False,
    )
    yield from ensure_packages(
        manager, NpmPackages, specs, present, latest, fact_kwargs={"directory": directory}
    )
