"""BSD packages: FreeBSD ``pkg``, else OpenBSD/NetBSD ``pkg_add``/``pkg_delete``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.pkg import PkgPackages
from pyinfra.operations._packaging import Manager, ensure_packages, package_specs, quoted

Commands = Generator[Any, Any, None]


def _either(pkg: list[Any], fallback: list[Any]) -> StringCommand:
    """``pkg ...`` where FreeBSD's pkg exists, else the ``pkg_*`` command (one shell)."""
    return StringCommand(
        "if", "command", "-v", "pkg", ">/dev/null", "2>&1;", "then", *pkg, ";",
        "else", *fallback, ";", "fi",
    )  # fmt: skip


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    pkg_path: str | None = None,
) -> Commands:
    """Install or remove packages with ``pkg install``/``pkg delete`` (FreeBSD), else
    ``pkg_add``/``pkg_delete`` with ``PKG_PATH`` set to ``pkg_path`` when given."""
    op = "pkg.packages"
    specs = package_specs(op, packages)
    path_env = (
        [StringCommand("PKG_PATH=", QuoteString(pkg_path), _separator="")] if pkg_path else []
    )

    def install(args: list[str]) -> StringCommand:
        return _either(
            ["pkg", "install", "-y", *quoted(args)], [*path_env, "pkg_add", *quoted(args)]
        )

    def remove(args: list[str]) -> StringCommand:
        return _either(["pkg", "delete", "-y", *quoted(args)], ["pkg_delete", *quoted(args)])

    # the command picks pkg or pkg_add itself: the probe only checks for root
    manager = Manager(op=op, tool="sh", hint="not a BSD host?", install=install, remove=remove)
    yield from ensure_packages(manager, PkgPackages, specs, present, False)
