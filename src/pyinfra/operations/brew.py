"""Homebrew (macOS, Linux): formulae, casks, taps, trust. brew refuses to run as root,
so none of these need (or should get) ``_sudo``."""

from __future__ import annotations

from collections.abc import Generator
from enum import Enum
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.brew import BrewCasks, BrewPackages, BrewTaps, BrewTrusted
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    package_list,
    package_specs,
    packages_command,
    probe,
    quoted,
    run_command,
)
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]
HINT = "is Homebrew installed (https://brew.sh)?"


class BrewItemKind(Enum):
    """What ``brew.trust`` trusts: the value is the key of ``brew.BrewTrusted``."""

    CASK = "casks"
    COMMAND = "commands"
    FORMULA = "formulae"
    TAP = "taps"


def _manager(op: str, cask: bool = False) -> Manager:
    flag = ["--cask"] if cask else []
    return Manager(
        op=op,
        tool="brew",
        hint=HINT,
        install=packages_command("brew", "install", *flag),
        remove=packages_command("brew", "uninstall", *flag),
        upgrade=packages_command("brew", "upgrade", *flag),
        needs_root=False,
    )


def _run(op: str, *args: str, facts: tuple[type[Any], ...] = ()) -> Commands:
    yield from run_command(_manager(op), StringCommand("brew", *args), facts)


@operation()
def update() -> Commands:
    """``brew update``: fetch the newest Homebrew and formulae."""
    yield from _run("brew.update", "update")


_update = update


@operation()
def upgrade() -> Commands:
    """``brew upgrade``: upgrade every outdated formula."""
    yield from _run("brew.upgrade", "upgrade", facts=(BrewPackages,))


_upgrade = upgrade


@operation()
def cask_upgrade() -> Commands:
    """``brew upgrade --cask``: upgrade every outdated cask."""
    yield from _run("brew.cask_upgrade", "upgrade", "--cask", facts=(BrewCasks,))


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall formulae; ``name@version`` names a
    versioned formula as brew does."""
    op = "brew.packages"
    specs = package_specs(op, packages, present, latest)
    if update:
        yield from _run(op, "update")
    if upgrade:
        yield from _run(op, "upgrade", facts=(BrewPackages,))
    yield from ensure_packages(_manager(op), BrewPackages, specs, present, latest)


@operation()
def casks(
    casks: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    upgrade: bool = False,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall casks."""
    op = "brew.casks"
    specs = package_specs(op, casks, present, latest, argument="casks")
    if upgrade:
        yield from _run(op, "upgrade", "--cask", facts=(BrewCasks,))
    yield from ensure_packages(_manager(op, cask=True), BrewCasks, specs, present, latest)


@operation()
def tap(
    src: str | None = None,
    present: bool = True,
    trusted: bool | None = False,
    url: str | None = None,
) -> Commands:
    """Add or remove a tap (``src`` like ``user/repo``; ``url`` for a custom remote: the
    name defaults to ``user/repo`` taken from it) and mark it trusted or not."""
    op = "brew.tap"
    if not src and not url:
        raise fail(op, "give src (user/repo) or url")
    name = src or "/".join((url or "").rstrip("/").removesuffix(".git").split("/")[-2:])
    if name.count("/") != 1:
        raise fail(op, f"tap name must look like user/repo, got {name!r}")
    taps = host.get_fact(BrewTaps)
    if present and name not in taps:
        probe(_manager(op))
        yield StringCommand("brew", "tap", QuoteString(name), *([QuoteString(url)] if url else []))
        yield FactChange(known=((BrewTaps, {}, [*taps, name]),))
    elif not present and name in taps:
        probe(_manager(op))
        yield StringCommand("brew", "untap", QuoteString(name))
        yield FactChange(known=((BrewTaps, {}, [t for t in taps if t != name]),))
        return
    elif present:
        host.noop(f"tap {name} exists")
    else:
        host.noop(f"tap {name} does not exist")
        return
    if trusted is not None:
        yield from _trust(op, [name], BrewItemKind.TAP, bool(trusted))


def _trust(op: str, items: list[str], kind: BrewItemKind, trusted: bool) -> Commands:
    current = host.get_fact(BrewTrusted)
    have = set(current.get(kind.value, []))
    todo = [i for i in items if (i in have) != trusted]
    if not todo:
        host.noop(f"{', '.join(items)}: already {'trusted' if trusted else 'untrusted'}")
        return
    probe(_manager(op))
    flag = f"--{kind.value.rstrip('s') if kind is not BrewItemKind.FORMULA else 'formula'}"
    yield StringCommand("brew", "trust" if trusted else "untrust", flag, *quoted(todo))
    new = sorted(have | set(todo)) if trusted else sorted(have - set(todo))
    yield FactChange(known=((BrewTrusted, {}, {**current, kind.value: new}),))


@operation()
def trust(items: str | list[str], kind: BrewItemKind, trusted: bool) -> Commands:
    """Trust or untrust casks, commands, formulae or taps (``kind``, a
    :class:`BrewItemKind`); see https://docs.brew.sh/Tap-Trust."""
    op = "brew.trust"
    if not isinstance(kind, BrewItemKind):
        raise fail(op, f"kind must be a BrewItemKind (CASK, COMMAND, FORMULA, TAP), got {kind!r}")
    yield from _trust(op, package_list(op, items, "items"), kind, trusted)
