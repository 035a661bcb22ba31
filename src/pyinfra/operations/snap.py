"""snap: install or remove snaps, on a tracking channel."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.snap import SnapPackage, SnapPackages
from pyinfra.operations._packaging import Manager, package_list, probe, quoted
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Manager:
    return Manager(op, "snap", "is snapd installed (apt install snapd)?")


@operation()
def package(
    packages: str | list[str] | None = None,
    channel: str = "latest/stable",
    classic: bool = False,
    present: bool = True,
) -> Commands:
    """Install snaps (``--classic`` confinement with ``classic``) tracking ``channel``,
    switching installed ones to it (``snap refresh --channel``), or remove them."""
    op = "snap.package"
    names = package_list(op, packages)
    if not channel or " " in channel:
        raise fail(op, f"channel must look like latest/stable, got {channel!r}")
    installed = host.get_fact(SnapPackages)
    if not present:
        gone = [n for n in names if n in installed]
        for name in names:
            if name not in gone:
                host.noop(f"snap {name} is not installed")
        if gone:
            probe(_manager(op))
            yield StringCommand("snap", "remove", *quoted(gone))
            yield FactChange(
                facts=(SnapPackage,),
                known=((SnapPackages, {}, [n for n in installed if n not in gone]),),
            )
        return
    missing = [n for n in names if n not in installed]
    if missing:
        probe(_manager(op))
        yield StringCommand(
            "snap", "install", *(["--classic"] if classic else []),
            "--channel", QuoteString(channel), *quoted(missing),
        )  # fmt: skip
        yield FactChange(facts=(SnapPackage,), known=((SnapPackages, {}, [*installed, *missing]),))
    for name in names:
        if name in missing:
            continue
        tracking = host.get_fact(SnapPackage, package=name).get("channel")
        if tracking == channel:
            host.noop(f"snap {name} is installed, tracking {channel}")
            continue
        probe(_manager(op))
        yield StringCommand("snap", "refresh", "--channel", QuoteString(channel), QuoteString(name))
        yield FactChange(facts=(SnapPackage,))
