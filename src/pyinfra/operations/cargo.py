"""cargo: crates installed with ``cargo install``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.cargo import CargoPackages
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
    ensure_packages,
    package_list,
    quoted,
    split_specs,
)

Commands = Generator[Any, Any, None]


def _install(args: list[str], force: bool = False) -> StringCommand:
    bits: list[Any] = []
    for arg in args:
        name, _, version = arg.partition("@")
        command = StringCommand(
            "cargo", "install", *(["--force"] if force else []), *quoted([name]),
            *(["--version", *quoted([version])] if version else []),
        )  # fmt: skip
        bits += ["&&", command] if bits else [command]
    return StringCommand(*bits)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
) -> Commands:
    """Install, upgrade (``latest``: ``cargo install`` rebuilds when a newer version
    exists) or uninstall crates; ``name@version`` pins."""
    op = "cargo.packages"
    check_conflicts(op, present, latest)
    specs = split_specs(op, package_list(op, packages), "@")
    manager = Manager(
        op=op,
        tool="cargo",
        hint="is Rust's cargo installed?",
        install=_install,
        remove=lambda args: StringCommand("cargo", "uninstall", *quoted(args)),
        upgrade=_install,
        needs_root=False,
    )
    yield from ensure_packages(manager, CargoPackages, specs, present, latest)
