"""cargo: crates installed with ``cargo install``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.operation import operation
from pyinfra.facts.cargo import CargoPackages
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    package_specs,
    packages_command,
    versioned_install,
)

Commands = Generator[Any, Any, None]


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
) -> Commands:
    """Install, upgrade (``latest``: ``cargo install`` rebuilds when a newer version
    exists) or uninstall crates; ``name@version`` pins."""
    op = "cargo.packages"
    specs = package_specs(op, packages, present, latest, "@")
    manager = Manager(
        op=op,
        tool="cargo",
        hint="is Rust's cargo installed?",
        install=versioned_install("cargo", "install", separator="@"),
        remove=packages_command("cargo", "uninstall"),
        upgrade=versioned_install("cargo", "install", separator="@"),
        needs_root=False,
    )
    yield from ensure_packages(manager, CargoPackages, specs, present, latest)
