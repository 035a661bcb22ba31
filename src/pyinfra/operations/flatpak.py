"""flatpak: install or remove applications and runtimes."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.flatpak import FlatpakPackage, FlatpakPackages
from pyinfra.operations._packaging import Manager, package_list, probe, quoted

Commands = Generator[Any, Any, None]


def _probe(op: str) -> None:
    probe(Manager(op, "flatpak", "is flatpak installed (apt install flatpak)?"))


@operation()
def packages(
    packages: str | list[str] | None = None,
    remote: str | None = None,
    present: bool = True,
) -> Commands:
    """Install (from ``remote`` when given) or uninstall flatpaks, by application id."""
    op = "flatpak.packages"
    names = package_list(op, packages)
    installed = host.get_fact(FlatpakPackages)
    if present:
        todo = [n for n in names if n not in installed]
        verb = ["install", "--noninteractive", *([QuoteString(remote)] if remote else [])]
        new = [*installed, *todo]
    else:
        todo = [n for n in names if n in installed]
        verb = ["uninstall", "--noninteractive"]
        new = [n for n in installed if n not in todo]
    for name in names:
        if name not in todo:
            host.noop(f"flatpak {name} is {'' if present else 'not '}installed")
    if todo:
        _probe(op)
        yield StringCommand("flatpak", *verb, *quoted(todo))
        yield FactChange(facts=(FlatpakPackage,), known=((FlatpakPackages, {}, new),))
