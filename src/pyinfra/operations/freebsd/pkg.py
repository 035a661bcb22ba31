"""FreeBSD ``pkg(8)``: install/remove one package, update catalogues, upgrade, clean,
autoremove, on the host or in a jail (``jail``: ``pkg -j``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.pkg import PkgPackages
from pyinfra.facts.server import Command
from pyinfra.operations._packaging import Manager, package_list, probe
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _pkg(jail: str | None, *bits: Any) -> StringCommand:
    return StringCommand("pkg", *(["-j", QuoteString(jail)] if jail else []), *bits)


def _probe(op: str) -> None:
    probe(Manager(op, "pkg", "not a FreeBSD host?"))


def _installed(package: str, jail: str | None) -> bool:
    check = _pkg(jail, "info", "-e", QuoteString(package), "&&", "echo", "installed", "||", "true")
    return bool(host.get_fact(Command, command=check.get_raw_value()) == "installed")


def _one(op: str, package: str) -> str:
    names = package_list(op, package, "package")
    if len(names) != 1:
        raise fail(op, f"argument package must be one package name, got {package!r}")
    return names[0]


@operation()
def install(package: str, jail: str | None = None, reponame: str | None = None) -> Commands:
    """``pkg install -y PACKAGE`` unless it is installed (``reponame``: ``-r``)."""
    op = "freebsd.pkg.install"
    name = _one(op, package)
    if _installed(name, jail):
        host.noop(f"package {name} is installed")
        return
    _probe(op)
    repo = ["-r", QuoteString(reponame)] if reponame else []
    yield _pkg(jail, "install", "-y", *repo, QuoteString(name))
    yield FactChange(facts=(PkgPackages, Command))


@operation()
def remove(package: str, jail: str | None = None) -> Commands:
    """``pkg remove -y PACKAGE`` if it is installed."""
    op = "freebsd.pkg.remove"
    name = _one(op, package)
    if not _installed(name, jail):
        host.noop(f"package {name} is not installed")
        return
    _probe(op)
    yield _pkg(jail, "remove", "-y", QuoteString(name))
    yield FactChange(facts=(PkgPackages, Command))


@operation()
def update(jail: str | None = None, force: bool = False, reponame: str | None = None) -> Commands:
    """``pkg update`` (``-f`` with ``force``, ``-r`` with ``reponame``)."""
    _probe("freebsd.pkg.update")
    repo = ["-r", QuoteString(reponame)] if reponame else []
    yield _pkg(jail, "update", *(["-f"] if force else []), *repo)
    yield FactChange(facts=())


@operation()
def upgrade(jail: str | None = None, force: bool = False, reponame: str | None = None) -> Commands:
    """``pkg upgrade -y`` (``-f`` with ``force``, ``-r`` with ``reponame``)."""
    _probe("freebsd.pkg.upgrade")
    repo = ["-r", QuoteString(reponame)] if reponame else []
    yield _pkg(jail, "upgrade", "-y", *(["-f"] if force else []), *repo)
    yield FactChange(facts=(PkgPackages, Command))


@operation()
def autoremove(jail: str | None = None) -> Commands:
    """``pkg autoremove -y``: remove orphan packages."""
    _probe("freebsd.pkg.autoremove")
    yield _pkg(jail, "autoremove", "-y")
    yield FactChange(facts=(PkgPackages, Command))


@operation()
def clean(all_pkg: bool = False, jail: str | None = None) -> Commands:
    """``pkg clean -y`` (``-a``: every cached package with ``all_pkg``)."""
    _probe("freebsd.pkg.clean")
    yield _pkg(jail, "clean", "-y", *(["-a"] if all_pkg else []))
    yield FactChange(facts=())
