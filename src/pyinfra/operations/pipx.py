"""pipx: Python applications in their own virtualenvs."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.pipx import PipxEnvironment, PipxPackages
from pyinfra.operations._packaging import (
    Manager,
    each,
    ensure_packages,
    extra_args,
    quoted,
    run_command,
)
from pyinfra.operations.pip import canonical_name, requirement_specs

Commands = Generator[Any, Any, None]
HINT = "is pipx installed (apt install pipx)?"


def _manager(op: str, extra: list[str]) -> Manager:
    # one "pipx install"/"pipx uninstall" per application: pipx takes one spec at a time
    return Manager(
        op=op,
        tool="pipx",
        hint=HINT,
        install=lambda args: each(
            args, lambda a: StringCommand("pipx", "install", *extra, QuoteString(a))
        ),
        remove=lambda args: each(
            args, lambda a: StringCommand("pipx", "uninstall", QuoteString(a))
        ),
        upgrade=lambda args: StringCommand("pipx", "upgrade", *extra, *quoted(args)),
        needs_root=False,
        canonical=canonical_name,
    )


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    extra_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall pipx applications; ``name==version``
    pins. ``extra_args`` go to ``pipx install``/``pipx upgrade``."""
    op = "pipx.packages"
    specs = requirement_specs(op, packages, present, latest)
    yield from ensure_packages(
        _manager(op, _extra(extra_args)), PipxPackages, specs, present, latest
    )


def _extra(value: str | None) -> list[str]:
    return extra_args(value)


@operation()
def upgrade_all() -> Commands:
    """``pipx upgrade-all``."""
    yield from run_command(
        _manager("pipx.upgrade_all", []), StringCommand("pipx", "upgrade-all"), (PipxPackages,)
    )


@operation()
def ensure_path() -> Commands:
    """``pipx ensurepath``, unless pipx's bin directory is already on the ``PATH``."""
    env = host.get_fact(PipxEnvironment)
    bin_dir = env.get("PIPX_BIN_DIR")
    from pyinfra.facts.server import Command

    path = host.get_fact(Command, command="echo $PATH")
    if bin_dir and bin_dir in (path or "").split(":"):
        host.noop(f"{bin_dir} is on the PATH")
        return
    yield from run_command(_manager("pipx.ensure_path", []), StringCommand("pipx", "ensurepath"))
