"""Chocolatey (Windows): install Chocolatey itself, and packages."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.choco import ChocoPackages, ChocoVersion
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
    ensure_packages,
    package_list,
    quoted,
    split_specs,
)

Commands = Generator[Any, Any, None]
INSTALL_SCRIPT = (
    "Set-ExecutionPolicy Bypass -Scope Process -Force; "
    "[System.Net.ServicePointManager]::SecurityProtocol = "
    "[System.Net.ServicePointManager]::SecurityProtocol -bor 3072; "
    "iex ((New-Object System.Net.WebClient).DownloadString("
    "'https://community.chocolatey.org/install.ps1'))"
)


@operation()
def install() -> Commands:
    """Install Chocolatey (its official PowerShell installer) unless it is there."""
    if host.get_fact(ChocoVersion):
        host.noop("Chocolatey is installed")
        return
    yield StringCommand("powershell", "-NoProfile", "-Command", f'"{INSTALL_SCRIPT}"')
    yield FactChange(facts=(ChocoVersion, ChocoPackages))


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall Chocolatey packages;
    ``name=version`` pins (``--version``)."""
    op = "choco.packages"
    check_conflicts(op, present, latest)
    specs = split_specs(op, package_list(op, packages), "=")

    def install_command(args: list[str]) -> StringCommand:
        bits: list[Any] = []
        for arg in args:
            name, _, version = arg.partition("=")
            bits.append(
                StringCommand(
                    "choco",
                    "install",
                    "-y",
                    *quoted([name]),
                    *(["--version", *quoted([version])] if version else []),
                )
            )
        joined: list[Any] = []
        for bit in bits:
            joined += [";", bit] if joined else [bit]
        return StringCommand(*joined)

    manager = Manager(
        op=op,
        tool="choco",
        hint="is Chocolatey installed (choco.install)?",
        install=install_command,
        remove=lambda args: StringCommand("choco", "uninstall", "-y", *quoted(args)),
        upgrade=lambda args: StringCommand("choco", "upgrade", "-y", *quoted(args)),
        needs_root=False,  # Windows: administrator rights are not a uid
    )
    yield from ensure_packages(manager, ChocoPackages, specs, present, latest)
