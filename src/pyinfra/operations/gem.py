"""RubyGems: gems."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.operation import operation
from pyinfra.facts.gem import GemPackages
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
    """Install, update (``latest``) or uninstall gems; ``name:version`` pins."""
    op = "gem.packages"
    specs = package_specs(op, packages, present, latest, ":")
    manager = Manager(
        op=op,
        tool="gem",
        hint="is Ruby installed (apt install ruby)?",
        install=versioned_install("gem", "install", separator=":"),
        remove=packages_command("gem", "uninstall", "-x", "-a"),
        upgrade=packages_command("gem", "update"),
        needs_root=False,
    )
    yield from ensure_packages(manager, GemPackages, specs, present, latest)
