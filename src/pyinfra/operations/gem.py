"""RubyGems: gems."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.gem import GemPackages
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
    ensure_packages,
    package_list,
    quoted,
    split_specs,
)

Commands = Generator[Any, Any, None]


def _install(args: list[str]) -> StringCommand:
    bits: list[Any] = []
    for arg in args:
        name, _, version = arg.partition(":")
        command = StringCommand(
            "gem",
            "install",
            *quoted([name]),
            *(["--version", *quoted([version])] if version else []),
        )
        bits += ["&&", command] if bits else [command]
    return StringCommand(*bits)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
) -> Commands:
    """Install, update (``latest``) or uninstall gems; ``name:version`` pins."""
    op = "gem.packages"
    check_conflicts(op, present, latest)
    specs = split_specs(op, package_list(op, packages), ":")
    manager = Manager(
        op=op,
        tool="gem",
        hint="is Ruby installed (apt install ruby)?",
        install=_install,
        remove=lambda args: StringCommand("gem", "uninstall", "-x", "-a", *quoted(args)),
        upgrade=lambda args: StringCommand("gem", "update", *quoted(args)),
        needs_root=False,
    )
    yield from ensure_packages(manager, GemPackages, specs, present, latest)
