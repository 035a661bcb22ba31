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
    ensure_packages,
    package_specs,
    packages_command,
    versioned_install,
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
    specs = package_specs(op, packages, present, latest, "=")
    manager = Manager(
        op=op,
        tool="choco",
        hint="is Chocolatey installed (choco.install)?",
        install=versioned_install("choco", "install", "-y", separator="=", joiner=";"),
        remove=packages_command("choco", "uninstall", "-y"),
        upgrade=packages_command("choco", "upgrade", "-y"),
        needs_root=False,  # Windows: administrator rights are not a uid
    )
    yield from ensure_packages(manager, ChocoPackages, specs, present, latest)
