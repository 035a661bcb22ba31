"""Go: binaries installed with ``go install PATH@VERSION``."""

from __future__ import annotations

import shlex
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.go import GO_BINARIES, GoPackages
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
    return StringCommand(
        *[
            b
            for a in args
            for b in ("go", "install", *quoted([a if "@" in a else a + "@latest"]), "&&")
        ][:-1]
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
    check_conflicts(op, present, latest)
    specs = split_specs(op, package_list(op, packages), "@")
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
