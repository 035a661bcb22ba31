"""Go: binaries installed with ``go install PATH@VERSION``."""

from __future__ import annotations

import shlex
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.go import GO_BINARIES, GoPackages
from pyinfra.operations._packaging import Manager, each, ensure_packages, package_specs, quoted

Commands = Generator[Any, Any, None]


def _install(args: list[str]) -> StringCommand:
    """``go install PATH@VERSION`` (``@latest`` when unpinned), one package at a time."""
    return each(
        args,
        lambda a: StringCommand("go", "install", QuoteString(a if "@" in a else a + "@latest")),
    )


def _remove(args: list[str]) -> StringCommand:
    """Delete the binaries whose ``go version -m`` path is one of ``args``."""
    wanted = " ".join(shlex.quote(a) for a in args)
    script = (
        GO_BINARIES.replace("-exec go version -m {} +", "-print")
        + f' | while read -r bin; do p=$(go version -m "$bin" | awk \'$1 == "path" {{print $2}}\');'
        f' for w in {wanted}; do [ "$p" = "$w" ] && rm -f "$bin"; done; done'
    )
    return StringCommand("sh", "-c", quoted([script])[0])


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
) -> Commands:
    """Install (``go install PATH@VERSION``, ``@latest`` by default), update
    (``latest``) or remove Go binaries, named by package path."""
    op = "go.packages"
    specs = package_specs(op, packages, present, latest, "@")
    manager = Manager(
        op=op,
        tool="go",
        hint="is Go installed (apt install golang)?",
        install=_install,
        remove=_remove,
        upgrade=lambda args: _install([a + "@latest" for a in args]),
        needs_root=False,
    )
    yield from ensure_packages(manager, GoPackages, specs, present, latest)
